"""`nlp.pipe` with per-record isolation: a document that fails costs itself only.

`nlp.pipe` stops at the first exception, and the documents of the failing
batch (and of every batch after it) are lost; with ``n_process > 1`` a worker's
exception comes back as one ValueError (spaCy's E871) that ends the run the
same way. `pipe_records` keeps going:

- each Doc is made in this process (`nlp.make_doc`, where the tokenizer and
  spaCy's ``max_length`` check run), one record at a time: a record whose
  Doc cannot be made is reported and skipped;
- a document longer than ``nlp.max_length`` is annotated, not refused: the
  limit is raised to its length for the run (and set back afterwards). The
  limit guards spaCy's own memory-hungry components; the transformer reads a
  long document in windows (its span getter), so the offsets stay right;
- when `nlp.pipe` raises, the documents it had taken but not given back are
  annotated again one at a time, in input order: the ones that fail alone
  are reported (E2631: where, id, exception) and skipped, the others given.
  Then a new `nlp.pipe` (new worker processes with ``n_process > 1``) goes
  on with the rest of the input. A document a component's error handler
  dropped is redone the same way.

The documents come out in input order, as from `nlp.pipe`.
"""

from collections import deque
from typing import Callable, Deque, Iterable, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors

RecordT = Tuple[str, str, str]  # (id, text, where)


def pipe_records(
    nlp: Language,
    records: Iterable[RecordT],
    report: Callable[[str], None],
    *,
    batch_size: int = 64,
    n_process: int = 1,
    prepare: Optional[Callable[[Doc], None]] = None,
) -> Iterator[Tuple[str, Doc]]:
    """(id, doc) for every record of `records` that `nlp` annotates, in input order.

    nlp (Language): the pipeline.
    records (Iterable[RecordT]): (id, text, where) per document; ids must be
        unique (`where`, e.g. 'file:line', is only for the messages).
    report (Callable[[str], None]): called with the message (E2631) of each
        record that failed and was skipped.
    batch_size (int): documents per `nlp.pipe` batch.
    n_process (int): worker processes for `nlp.pipe`.
    prepare (Optional[Callable[[Doc], None]]): called on each new Doc before
        the pipeline (e.g. to set the questions of a QA component).
    YIELDS (Tuple[str, Doc]): the id and the annotated Doc.
    """
    source = iter(records)
    pending: Deque[RecordT] = deque()  # taken by nlp.pipe, not given back yet
    source_error: List[BaseException] = []
    max_length = nlp.max_length

    def make(record: RecordT) -> Optional[Doc]:
        doc_id, text, where = record
        try:
            if len(text) > nlp.max_length:
                nlp.max_length = len(text)
            doc = nlp.make_doc(text)
            if prepare is not None:
                prepare(doc)
            return doc
        except Exception as e:
            report(Errors.E2631.format(where=where, id=doc_id, stage="making its Doc", why=_why(e)))
            return None

    def feed() -> Iterator[Tuple[Doc, str]]:
        while True:
            try:
                record = next(source)
            except StopIteration:
                return
            except Exception as e:  # not a record's fault (e.g. the input is gone): raised
                source_error.append(e)
                raise
            doc = make(record)
            if doc is not None:
                pending.append(record)
                yield doc, record[0]

    def alone(record: RecordT) -> Optional[Doc]:
        doc = make(record)
        if doc is None:
            return None
        try:
            docs = list(nlp.pipe([doc], batch_size=1))
            why = "" if docs else "a component's error handler dropped it"
        except Exception as e:
            docs, why = [], _why(e)
        if why:
            report(Errors.E2631.format(where=record[2], id=record[0], stage="the pipeline", why=why))
            return None
        return docs[0]

    def redo(until: Optional[str] = None) -> Iterator[Tuple[str, Doc]]:
        """Annotate the pending records one at a time, up to the one with id `until`."""
        while pending and pending[0][0] != until:
            record = pending.popleft()
            doc = alone(record)
            if doc is not None:
                yield record[0], doc

    try:
        while True:
            failed = False
            try:
                for doc, doc_id in nlp.pipe(
                    feed(), as_tuples=True, batch_size=batch_size, n_process=n_process
                ):
                    yield from redo(until=doc_id)  # records an error handler dropped
                    if pending:
                        pending.popleft()
                    yield doc_id, doc
            except Exception:
                if source_error:
                    raise source_error[0] from None
                failed = True
            yield from redo()
            if not failed:
                return
    finally:
        nlp.max_length = max_length


def _why(e: BaseException) -> str:
    """An exception in one line: its type and the first line of its message, cut at 300 characters."""
    lines = str(e).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
