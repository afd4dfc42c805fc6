"""The PubTator format (NCBI-disease, BC5CDR, BioRED, PubTator3 exports).

One block per document, blank lines between blocks::

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>concept id]

Offsets index ``title + " " + abstract``. Relation lines
(``PMID<TAB>relation<TAB>id1<TAB>id2``, BC5CDR/BioRED) are skipped. Any other
line is an error naming the file and line.
"""

from pathlib import Path
from typing import Dict, Iterator, List, Union

from ..errors import Errors
from ..text_files import open_utf8
from .offsets import OffsetDocument

EXPECTED = ("'PMID|t|title', 'PMID|a|abstract' or "
            "'PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>concept]'")


def _error(path: Path, line: int, content: str) -> ValueError:
    return ValueError(Errors.E2208.format(
        path=path, line=line, fmt="PubTator", content=content[:80], expected=EXPECTED,
    ))


def read_pubtator(path: Union[str, Path]) -> Iterator[OffsetDocument]:
    """The documents of a PubTator file, in file order.

    path (Union[str, Path]): the file.
    YIELDS (OffsetDocument): id = PMID, text = title + " " + abstract, mentions
        as (start, end, type).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    doc_id = None
    parts: Dict[str, str] = {}
    mentions: List = []

    def finish() -> OffsetDocument:
        text = parts.get("t", "")
        if "a" in parts:
            text = f"{text} {parts['a']}" if text else parts["a"]
        return OffsetDocument(doc_id, text, list(mentions))

    with open_utf8(path, newline="") as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if doc_id is not None:
                    yield finish()
                    doc_id, parts, mentions = None, {}, []
                continue
            head = line.split("|", 2)
            if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
                pmid, kind, text = head
                if doc_id is not None and pmid != doc_id:
                    yield finish()
                    parts, mentions = {}, []
                if kind in parts or (kind == "t" and mentions):
                    raise _error(path, i, line)
                doc_id = pmid
                parts[kind] = text
                continue
            fields = line.split("\t")
            if doc_id is None or fields[0] != doc_id:
                raise _error(path, i, line)
            if len(fields) == 4 and not fields[1].isdigit():
                continue  # a relation line
            if len(fields) < 5 or not fields[1].isdigit() or not fields[2].isdigit():
                raise _error(path, i, line)
            mentions.append((int(fields[1]), int(fields[2]), fields[4]))
    if doc_id is not None:
        yield finish()


def looks_like_pubtator(path: Path) -> bool:
    """Whether the first non-blank line of the file is a PubTator title line."""
    with path.open(encoding="utf8", errors="replace") as f:
        for line in f:
            if line.strip():
                head = line.split("|", 2)
                return len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]
    return False
