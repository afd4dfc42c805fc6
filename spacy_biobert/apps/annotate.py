"""Annotate a corpus with a pipeline, streaming, into JSONL (``spacy-biobert annotate``).

Inputs (the format comes from the file name, or is given):

- ``lines`` (``.txt``): one document per line; the id is the line number
  (1-based). An empty line is an empty document (a record with no entities).
- ``text``: documents are blocks separated by blank lines; the id is the line
  number of the block's first line.
- ``jsonl`` (``.jsonl``, ``.ndjson``): one JSON object per line, with an id
  (``id_field``, a non-empty string or an integer) and a text (``text_field``).
- ``pubmed`` (``.xml``): PubMed ``PubmedArticleSet`` files; the id is the PMID,
  the text the ArticleTitle, a space, and the AbstractText parts joined by
  spaces. Read with ``iterparse``, each article cleared once read, so memory
  does not grow with the file.

Any of them may be gzipped (``.gz``). The input may also be a folder: its
files of the chosen format, in name order; there, ``lines`` and ``text`` ids
are prefixed with the file name (``notes.txt:12``).

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
a string, an id seen before) are reported with file and line, counted and
skipped; they never stop the run.
"""

import gzip
import io
import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
)

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors
from ..extensions import ANSWERS_ATTR, ENT_CONFIDENCE_ATTR, RELATIONS_ATTR
from .annotate_output import prepare_output, read_done_ids  # noqa: F401 (public names)

FORMATS = ("lines", "text", "jsonl", "pubmed")


SUFFIX_FORMATS = {
    ".txt": "lines", ".text": "lines", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".xml": "pubmed",
}


ReportT = Callable[[str], None]


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


def detect_format(path: Path, fmt: Optional[str] = None) -> str:
    """The input format: `fmt` if given, else from the file's suffix (`.gz` ignored).

    path (Path): an input file or folder.
    fmt (Optional[str]): one of FORMATS, or None / 'auto' to detect.
    RETURNS (str): one of FORMATS.
    """
    if fmt and fmt != "auto":
        if fmt not in FORMATS:
            raise ValueError(Errors.E2612.format(fmt=fmt, formats=", ".join(FORMATS)))
        return fmt
    if path.is_dir():
        found = {SUFFIX_FORMATS.get(_base_suffix(p)) for p in path.iterdir() if p.is_file()}
        found.discard(None)
        if len(found) != 1:
            raise ValueError(Errors.E2613.format(path=path, found=sorted(found)))
        return found.pop()  # type: ignore[return-value]
    suffix = _base_suffix(path)
    if suffix not in SUFFIX_FORMATS:
        raise ValueError(Errors.E2614.format(path=path, suffix=suffix or "(none)"))
    return SUFFIX_FORMATS[suffix]


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def input_files(path: Path, fmt: str) -> List[Path]:
    """The files to read: `path` itself, or a folder's files of format `fmt`."""
    if not path.exists():
        raise ValueError(Errors.E2615.format(path=path))
    if not path.is_dir():
        return [path]
    return sorted(
        p for p in path.iterdir()
        if p.is_file() and SUFFIX_FORMATS.get(_base_suffix(p)) == fmt
    )


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _open_text(path: Path) -> IO[str]:
    return io.TextIOWrapper(_open_binary(path), encoding="utf8", newline=None)


def read_lines(path: Path, report: ReportT) -> Iterator[Tuple[str, str, int]]:
    """(id, text, line) per line; the id is the line number."""
    with _open_text(path) as f:
        for i, line in enumerate(f, 1):
            yield str(i), line.rstrip("\r\n"), i


def read_text_blocks(path: Path, report: ReportT) -> Iterator[Tuple[str, str, int]]:
    """(id, text, line) per block of non-blank lines; the id is the first line's number."""
    block: List[str] = []
    first = 0
    with _open_text(path) as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                if not block:
                    first = i
                block.append(line)
            elif block:
                yield str(first), "\n".join(block), first
                block = []
    if block:
        yield str(first), "\n".join(block), first


def read_jsonl(
    path: Path, report: ReportT, *, id_field: str = "id", text_field: str = "text"
) -> Iterator[Tuple[str, str, int]]:
    """(id, text, line) per valid JSON line; bad lines are reported and skipped."""
    with _open_text(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                report(Errors.E2616.format(path=path, line=i, why=f"invalid JSON ({e})"))
                continue
            if not isinstance(obj, dict):
                report(Errors.E2616.format(path=path, line=i, why="not a JSON object"))
                continue
            doc_id = _check_id(obj.get(id_field))
            if doc_id is None:
                report(Errors.E2616.format(
                    path=path, line=i,
                    why=f"no id: field {id_field!r} is missing, empty or not a string/integer",
                ))
                continue
            if text_field not in obj:
                report(Errors.E2616.format(path=path, line=i, why=f"no text field {text_field!r}"))
                continue
            text = obj[text_field]
            if not isinstance(text, str):
                report(Errors.E2616.format(
                    path=path, line=i,
                    why=f"text field {text_field!r} is {type(text).__name__}, not a string",
                ))
                continue
            yield doc_id, text, i


def _check_id(value: Any) -> Optional[str]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def read_pubmed(path: Path, report: ReportT) -> Iterator[Tuple[str, str, int]]:
    """(PMID, title + abstract, article number) per PubmedArticle.

    Elements are cleared as soon as an article is read, so memory stays
    constant however large the file. An article without a PMID is reported;
    a malformed file is reported and reading stops at the error.
    """
    n = 0
    with _open_binary(path) as f:
        context = ET.iterparse(f, events=("start", "end"))
        root: Optional[ET.Element] = None
        try:
            for event, elem in context:
                if root is None:
                    root = elem
                if event != "end" or elem.tag != "PubmedArticle":
                    continue
                n += 1
                pmid = elem.findtext("MedlineCitation/PMID") or elem.findtext(".//PMID")
                title_el = elem.find(".//Article/ArticleTitle")
                title = _all_text(title_el)
                parts = [_all_text(a) for a in elem.iterfind(".//Article/Abstract/AbstractText")]
                text = " ".join(t for t in [title] + parts if t)
                root.clear()  # drop this article (and everything before it)
                doc_id = _check_id((pmid or "").strip())
                if doc_id is None:
                    report(Errors.E2616.format(path=path, line=f"article {n}", why="no PMID"))
                    continue
                yield doc_id, text, n
        except ET.ParseError as e:
            line, col = e.position
            report(Errors.E2616.format(
                path=path, line=line, why=f"malformed XML ({e}); the rest of the file is skipped",
            ))


def _all_text(elem: Optional[ET.Element]) -> str:
    if elem is None:
        return ""
    return " ".join("".join(elem.itertext()).split())


def read_documents(
    path: Path, fmt: str, report: ReportT, *, id_field: str = "id", text_field: str = "text"
) -> Iterator[Tuple[str, str, str]]:
    """(id, text, where) for every document of the input, `where` being 'file:line'.

    No duplicate check here: see `annotate`.
    """
    # line-number ids repeat from file to file: prefix them with the file name
    prefix_ids = path.is_dir() and fmt in ("lines", "text")
    for file in input_files(path, fmt):
        if fmt == "lines":
            records = read_lines(file, report)
        elif fmt == "text":
            records = read_text_blocks(file, report)
        elif fmt == "jsonl":
            records = read_jsonl(file, report, id_field=id_field, text_field=text_field)
        else:
            records = read_pubmed(file, report)
        for doc_id, text, line in records:
            if prefix_ids:
                doc_id = f"{file.name}:{doc_id}"
            yield doc_id, text, f"{file}:{line}"


def documents_to_annotate(
    input_path: Path,
    fmt: str,
    done: Set[str],
    report: ReportT,
    *,
    id_field: str = "id",
    text_field: str = "text",
) -> Iterator[Tuple[str, str]]:
    """(text, id) for every document of the input still to annotate, in input order.

    A document whose id was seen before in the input is reported (E137) and
    skipped; one whose id is in `done` (already in the output) is skipped.
    The tuples are what `nlp.pipe(..., as_tuples=True)` takes.
    """
    seen: Dict[str, str] = {}
    for doc_id, text, where in read_documents(
        input_path, fmt, report, id_field=id_field, text_field=text_field
    ):
        if doc_id in seen:
            report(Errors.E2619.format(where=where, id=doc_id, first=seen[doc_id]))
            continue
        seen[doc_id] = where
        if doc_id in done:
            continue
        yield text, doc_id


def _ext_name(nlp: Language, key: str, default: str) -> str:
    """The attribute name a component of `nlp` was configured with (cfg[key])."""
    for _, pipe in nlp.pipeline:
        cfg = getattr(pipe, "cfg", None)
        if isinstance(cfg, dict) and isinstance(cfg.get(key), str):
            return cfg[key]
    return default


def _with_questions(
    nlp: Language, todo: Iterator[Tuple[str, str]], questions: List[str]
) -> Iterator[Tuple[Doc, str]]:
    """(doc, id) with `questions` set on each doc for the QA component(s)."""
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
    for text, doc_id in todo:
        doc = nlp.make_doc(text)
        for attr in attrs:
            doc._.set(attr, list(questions))
        yield doc, doc_id


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
    report (Optional[ReportT]): called with the message of each bad record
        (default: written to stderr).
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
        todo: Iterator[Tuple[Any, str]] = documents_to_annotate(
            input_path, fmt, done, _report, id_field=id_field, text_field=text_field
        )
        if questions:
            todo = _with_questions(nlp, todo, list(questions))
        for doc, doc_id in nlp.pipe(
            todo, as_tuples=True, batch_size=batch_size, n_process=n_process
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
