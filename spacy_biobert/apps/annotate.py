"""Annotate a corpus with a pipeline, streaming, into JSONL (``spacy-biobert annotate``).

Inputs: see `spacy_biobert.apps.annotate_input` (``lines``, ``text``,
``jsonl``, ``pubmed``; gzipped or not; a file or a folder).

Output: one JSON object per line, ``{"id": str, "entities": [...]}`` (plus
``"text"`` when asked, ``"relations"`` when the pipeline sets
``doc._.relations`` and ``"answers"`` when it sets ``doc._.answers``). An
entity is ``{"start_char", "end_char", "label", "text"}`` plus
``"confidence"`` when the NER component set one. Ids are always strings.

Resume. The ids already in the output are read first and skipped; a last line
cut short by a kill is truncated away. Every record is flushed once written,
so a run that is killed and started again loses and duplicates nothing. The
output is locked for the run, is never the input, and may be ``-`` (stdout)
or ``/dev/null``: see `spacy_biobert.apps.annotate_output`.

Bad input records (invalid JSON, no or empty id, no text or a text that is not
a string, an id seen before, a line that is not UTF-8, the rest of a cut .gz
file) are reported with file and line, counted and skipped; they never stop
the run. Nor does a document the pipeline fails on: it is reported and
skipped, the other documents of its batch annotated (see
`spacy_biobert.apps.annotate_pipe`).
"""

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
)

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors
from ..extensions import ANSWERS_ATTR, ENT_CONFIDENCE_ATTR, RELATIONS_ATTR
from .annotate_input import (  # noqa: F401 (re-exported: the readers' old home)
    FORMATS,
    SUFFIX_FORMATS,
    ReportT,
    detect_format,
    documents_to_annotate,
    input_files,
    read_documents,
    read_jsonl,
    read_lines,
    read_pubmed,
    read_text_blocks,
    records_to_annotate,
)
from .annotate_output import prepare_output, read_done_ids  # noqa: F401 (public names)
from .annotate_pipe import pipe_records


@dataclass
class AnnotateStats:
    """Counts of one `annotate` run."""

    done_before: int = 0
    annotated: int = 0
    bad: int = 0
    words: int = 0
    seconds: float = 0.0
    truncated_bytes: int = 0
    bad_examples: List[str] = field(default_factory=list)

    def add_bad(self, message: str) -> None:
        """Count a bad record, keeping the first 20 messages."""
        self.bad += 1
        if len(self.bad_examples) < 20:
            self.bad_examples.append(message)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "done_before": self.done_before, "annotated": self.annotated,
            "bad": self.bad, "words": self.words, "seconds": round(self.seconds, 2),
            "words_per_second": round(self.words / self.seconds, 1) if self.seconds else None,
            "truncated_bytes": self.truncated_bytes,
        }


def _ext_name(nlp: Language, key: str, default: str) -> str:
    """The attribute name a component of `nlp` was configured with (cfg[key])."""
    for _, pipe in nlp.pipeline:
        cfg = getattr(pipe, "cfg", None)
        if isinstance(cfg, dict) and isinstance(cfg.get(key), str):
            return cfg[key]
    return default


def _questions_setter(nlp: Language, questions: List[str]) -> Callable[[Doc], None]:
    """A function that sets `questions` on a doc for the QA component(s)."""
    import warnings

    from ..errors import Warnings
    from ..extensions import QUESTIONS_ATTR, install_extensions

    attrs = sorted({
        pipe.cfg["questions_attr"] for _, pipe in nlp.pipeline
        if isinstance(getattr(pipe, "cfg", None), dict) and isinstance(pipe.cfg.get("questions_attr"), str)
    })
    if not attrs:
        warnings.warn(Warnings.W2601.format(pipes=nlp.pipe_names), stacklevel=3)
        attrs = [QUESTIONS_ATTR]
    for attr in attrs:
        install_extensions(questions_attr=attr)

    def set_questions(doc: Doc) -> None:
        for attr in attrs:
            doc._.set(attr, list(questions))

    return set_questions


@dataclass
class RecordWriter:
    """Turns a Doc into an output record (plain JSON-serialisable dict)."""

    include_text: bool = False
    confidence_attr: str = ENT_CONFIDENCE_ATTR
    relations_attr: str = RELATIONS_ATTR
    answers_attr: str = ANSWERS_ATTR

    @classmethod
    def for_pipeline(cls, nlp: Language, *, include_text: bool = False) -> "RecordWriter":
        return cls(
            include_text=include_text,
            confidence_attr=_ext_name(nlp, "confidence_attr", ENT_CONFIDENCE_ATTR),
            relations_attr=_ext_name(nlp, "relations_attr", RELATIONS_ATTR),
            answers_attr=_ext_name(nlp, "answers_attr", ANSWERS_ATTR),
        )

    def record(self, doc_id: str, doc: Doc) -> Dict[str, Any]:
        record: Dict[str, Any] = {"id": doc_id}
        if self.include_text:
            record["text"] = doc.text
        record["entities"] = [self.entity(ent) for ent in doc.ents]
        for key, attr in (("relations", self.relations_attr), ("answers", self.answers_attr)):
            if Doc.has_extension(attr):
                value = getattr(doc._, attr)
                if value is not None:
                    record[key] = _plain(value)
        return record

    def entity(self, ent: Span) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "start_char": ent.start_char, "end_char": ent.end_char,
            "label": ent.label_, "text": ent.text,
        }
        if Span.has_extension(self.confidence_attr):
            confidence = getattr(ent._, self.confidence_attr)
            if confidence is not None:
                out["confidence"] = float(confidence)
        return out

    def json_line(self, doc_id: str, doc: Doc) -> str:
        """The record of `doc` as one line of JSON (no newline)."""
        return json.dumps(self.record(doc_id, doc), ensure_ascii=False)


def count_words(doc: Doc) -> int:
    """The tokens of `doc` that are not whitespace (the words/s of the summaries)."""
    return sum(1 for t in doc if not t.is_space)


def _plain(value: Any) -> Any:
    """Tuples (as DocBin gives lists back) and numpy scalars as JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def annotate(
    nlp: Language,
    input_path: Path,
    output: Path,
    *,
    fmt: Optional[str] = None,
    id_field: str = "id",
    text_field: str = "text",
    include_text: bool = False,
    batch_size: int = 64,
    n_process: int = 1,
    overwrite: bool = False,
    report: Optional[ReportT] = None,
    show_progress: bool = True,
    questions: Sequence[str] = (),
) -> AnnotateStats:
    """Annotate every document of `input_path` with `nlp`, appending JSONL records to `output`.

    nlp (Language): the pipeline.
    input_path (Path): a file or a folder of files (see the module docstring).
    output (Path): the JSONL file; ids already in it are skipped (resume);
        '-' for stdout, /dev/null for none (neither resumed). Locked for the
        run (E2643 when another run holds it); never the input (E2640/E2641).
    fmt (Optional[str]): 'lines', 'text', 'jsonl', 'pubmed'; None to detect.
    id_field (str): the id field of JSONL input.
    text_field (str): the text field of JSONL input.
    include_text (bool): write the document text into each record.
    batch_size (int): documents per `nlp.pipe` batch.
    n_process (int): worker processes for `nlp.pipe`.
    overwrite (bool): start the output afresh (emptied, under the lock)
        instead of resuming.
    report (Optional[ReportT]): called with the message of each bad record,
        and of each document the pipeline failed on (default: written to stderr).
    show_progress (bool): show a tqdm progress bar (on stderr).
    questions (Sequence[str]): questions for a QA component (biobert_qa), asked
        of every document: set as its questions attribute (``doc._.questions``
        or the component's ``questions_attr``); warning W130 if the pipeline
        has no QA component.
    RETURNS (AnnotateStats): the counts of the run.
    """
    from tqdm import tqdm

    if batch_size < 1 or n_process < 1:
        raise ValueError(Errors.E2618.format(batch_size=batch_size, n_process=n_process))
    fmt = detect_format(input_path, fmt)
    stats = AnnotateStats()
    sink = prepare_output(output, stats, overwrite=overwrite, input_path=input_path)
    done = sink.done
    bar = tqdm(desc=f"Annotating {input_path.name}", unit="doc", disable=not show_progress,
               file=sys.stderr, dynamic_ncols=True)

    def _report(message: str) -> None:
        stats.add_bad(message)
        if report is not None:
            report(message)
        else:
            bar.write(message, file=sys.stderr)

    writer = RecordWriter.for_pipeline(nlp, include_text=include_text)
    start = time.perf_counter()
    with sink.append() as out:  # flushed, synced and unlocked at the end
        todo = records_to_annotate(
            input_path, fmt, done, _report, id_field=id_field, text_field=text_field
        )
        prepare = _questions_setter(nlp, list(questions)) if questions else None
        for doc_id, doc in pipe_records(
            nlp, todo, _report, batch_size=batch_size, n_process=n_process, prepare=prepare
        ):
            out.write(writer.json_line(doc_id, doc) + "\n")
            out.flush()
            stats.annotated += 1
            stats.words += count_words(doc)
            bar.update(1)
        out.flush()
    bar.close()
    stats.seconds = time.perf_counter() - start
    return stats
