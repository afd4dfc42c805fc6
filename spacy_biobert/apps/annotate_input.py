"""The inputs of ``spacy-biobert annotate``: formats, files and the documents to annotate.

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
"""

import gzip
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from ..errors import Errors

FORMATS = ("lines", "text", "jsonl", "pubmed")


SUFFIX_FORMATS = {
    ".txt": "lines", ".text": "lines", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".xml": "pubmed",
}


ReportT = Callable[[str], None]


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
