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

Lines (``lines``, ``text``, ``jsonl``) end at b"\\n" only: a CRLF's b"\\r" is
removed, a bare b"\\r" stays in its line's text, and a UTF-8 byte order mark
at the start of a file is removed. Hostile input is reported (with file and
line), counted and skipped, never a stop: a line that is not UTF-8 (its
record is skipped; ids by line number do not shift), and a file that cannot
be read on (a truncated or corrupt ``.gz``: every complete line or article
before the cut is read, the rest of that file skipped, the next file read).
A lone surrogate in a JSONL text is replaced by U+FFFD (see `read_jsonl`).
"""

import gzip
import json
import re
import xml.etree.ElementTree as ET
import zlib
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


# what reading a file can raise part way: a cut or corrupt gzip stream
# (EOFError, gzip.BadGzipFile, zlib.error), or a read error (OSError)
READ_ERRORS = (EOFError, OSError, zlib.error)
BOM = b"\xef\xbb\xbf"


def read_raw_lines(path: Path, report: ReportT) -> Iterator[Tuple[int, Optional[bytes]]]:
    """(line number, line) per line of `path`, as bytes, split on b"\\n" only.

    A line's b"\\n" and one b"\\r" before it (CRLF files) are removed; a bare
    b"\\r" inside a line is kept (it neither ends a line nor shifts the line
    numbers). A UTF-8 byte order mark at the start of the file is removed.
    When the file cannot be read on (a truncated or corrupt gzip file, a read
    error), the lines read so far have been given, the error is reported
    (E2630, with the last complete line), (line, None) marks the cut and the
    rest of the file is skipped; a partial line at the cut is dropped.
    """
    n = 0
    try:
        with _open_binary(path) as f:
            for raw in f:
                n += 1
                if n == 1 and raw.startswith(BOM):
                    raw = raw[len(BOM):]
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                yield n, raw
    except READ_ERRORS as e:
        report(Errors.E2630.format(path=path, where=f"line {n}", why=f"{type(e).__name__}: {e}"))
        yield n, None


def _decode(path: Path, line: int, raw: bytes, report: ReportT) -> Optional[str]:
    """`raw` decoded from UTF-8, or None (reported: E2616) when it is not UTF-8."""
    try:
        return raw.decode("utf8")
    except UnicodeDecodeError as e:
        report(Errors.E2616.format(
            path=path, line=line,
            why=f"invalid UTF-8 (byte {raw[e.start]:#04x} at byte {e.start + 1} of the line)",
        ))
        return None


def read_lines(path: Path, report: ReportT) -> Iterator[Tuple[str, str, int]]:
    """(id, text, line) per line; the id is the line number.

    A line that is not valid UTF-8 is reported (E2616) and skipped; the ids of
    the lines after it do not change.
    """
    for i, raw in read_raw_lines(path, report):
        text = None if raw is None else _decode(path, i, raw, report)
        if text is not None:
            yield str(i), text, i


def read_text_blocks(path: Path, report: ReportT) -> Iterator[Tuple[str, str, int]]:
    """(id, text, line) per block of non-blank lines; the id is the first line's number.

    A block with a line that is not valid UTF-8 is reported (E2616, at that
    line) and skipped. A block cut by a read error (see `read_raw_lines`) is
    dropped: it may not be whole.
    """
    block: List[str] = []
    first = 0  # the first line of the block being read; 0 between blocks
    bad = False
    for i, raw in read_raw_lines(path, report):
        if raw is None:
            return
        line = _decode(path, i, raw, report)
        if line is not None and not line.strip():
            if first and not bad:
                yield str(first), "\n".join(block), first
            block, first, bad = [], 0, False
            continue
        if not first:
            first = i
        if line is None:
            bad = True
        else:
            block.append(line)
    if first and not bad:
        yield str(first), "\n".join(block), first


def read_jsonl(
    path: Path, report: ReportT, *, id_field: str = "id", text_field: str = "text"
) -> Iterator[Tuple[str, str, int]]:
    """(id, text, line) per valid JSON line; bad lines are reported and skipped.

    Lines are read as `read_raw_lines` reads them (split on b"\\n" only, BOM
    removed, a read error reported and the rest of the file skipped); a line
    that is not UTF-8 is bad. A lone surrogate (a JSON escape such as
    "\\ud800" that is half of no pair: not a character, so not writable as
    UTF-8 nor tokenisable) in the text is replaced by U+FFFD, one character
    for one, so every offset stays that of the text as read; in the id it
    makes the record bad (an id must be written exactly).
    """
    for i, raw in read_raw_lines(path, report):
        line = None if raw is None else _decode(path, i, raw, report)
        if line is None or not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            report(Errors.E2616.format(path=path, line=i, why=f"invalid JSON ({e})"))
            continue
        except RecursionError:  # e.g. [[[[...]]]] 100,000 deep: valid JSON, too deep to read
            report(Errors.E2616.format(path=path, line=i, why="JSON nested too deeply to read"))
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
        if LONE_SURROGATE.search(doc_id):
            report(Errors.E2616.format(
                path=path, line=i, why=f"the id {doc_id!r} has a lone surrogate (not a character)",
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
        yield doc_id, LONE_SURROGATE.sub("\ufffd", text), i


# after json.loads, a surrogate code point is one that paired with no other
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


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
    a malformed file is reported and reading stops at the error, as it does
    at a read error (a truncated or corrupt .gz: E2630, with the number of the
    last article read); the articles before are given.
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
        except READ_ERRORS as e:  # a truncated or corrupt .gz
            report(Errors.E2630.format(
                path=path, where=f"article {n}", why=f"{type(e).__name__}: {e}",
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

    A document whose id was seen before in the input is reported (E2619) and
    skipped; one whose id is in `done` (already in the output) is skipped.
    The tuples are what `nlp.pipe(..., as_tuples=True)` takes.
    """
    for doc_id, text, _ in records_to_annotate(
        input_path, fmt, done, report, id_field=id_field, text_field=text_field
    ):
        yield text, doc_id


def records_to_annotate(
    input_path: Path,
    fmt: str,
    done: Set[str],
    report: ReportT,
    *,
    id_field: str = "id",
    text_field: str = "text",
) -> Iterator[Tuple[str, str, str]]:
    """(id, text, where) for every document still to annotate, as `documents_to_annotate`."""
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
        yield doc_id, text, where
