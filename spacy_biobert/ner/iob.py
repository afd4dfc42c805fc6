"""The IOB file format: token<TAB>tag per line, blank lines between sentences, -DOCSTART- between documents."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Union

from ..errors import Errors
from ..text_files import open_utf8

DOCSTART = "-DOCSTART-"


@dataclass
class IOBSentence:
    """One sentence of an IOB file: tokens, their tags as written, and the
    line number of its first token (for error messages)."""

    words: List[str]
    tags: List[str]
    line: int
    doc_index: int = 0


@dataclass
class IOBDocument:
    sentences: List[IOBSentence] = field(default_factory=list)


def _check_tag(tag: str, path: Union[str, Path], line: int) -> str:
    if tag == "O":
        return tag
    prefix, sep, label = tag.partition("-")
    if prefix in ("B", "I") and (label or not sep):
        return tag
    raise ValueError(Errors.E2202.format(path=path, line=line, tag=tag))


def read_iob_sentences(path: Union[str, Path]) -> Iterator[IOBSentence]:
    """Yield the sentences of an IOB TSV file, checking every line.

    path (Union[str, Path]): the file.
    YIELDS (IOBSentence): one per sentence, with doc_index counting
        -DOCSTART- lines.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    words: List[str] = []
    tags: List[str] = []
    first = 0
    doc_index = 0
    seen_docstart = False
    with open_utf8(path) as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if words:
                    yield IOBSentence(words, tags, first, doc_index)
                    words, tags = [], []
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise ValueError(
                    Errors.E2201.format(path=path, line=i, content=line[:80])
                )
            word, tag = fields
            if word == DOCSTART:
                if words:
                    yield IOBSentence(words, tags, first, doc_index)
                    words, tags = [], []
                if seen_docstart:
                    doc_index += 1
                seen_docstart = True
                continue
            if not word.strip():
                raise ValueError(Errors.E2203.format(path=path, line=i))
            if not words:
                first = i
            words.append(word)
            tags.append(_check_tag(tag.strip(), path, i))
    if words:
        yield IOBSentence(words, tags, first, doc_index)
