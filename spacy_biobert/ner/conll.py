"""IOB/CoNLL column files: one token per line, a blank line between sentences,
``-DOCSTART-`` lines between documents, IOB2 tags.

Two or more columns, separated by tabs (when the line has a tab) or else by
spaces; by default the token is the first column and the tag the last
(``token<TAB>POS<TAB>chunk<TAB>tag`` of CoNLL-2003 works as is), or chosen
with ``token_column`` / ``tag_column``. The BioBERT ``token<TAB>tag`` files
are read by :mod:`.iob` (the same result; that reader also refuses any line
without exactly two fields).
"""

from pathlib import Path
from typing import Iterator, List, Union

from ..errors import Errors
from ..text_files import open_utf8
from .iob import DOCSTART, IOBSentence, _check_tag


def read_conll_sentences(
    path: Union[str, Path], *, token_column: int = 0, tag_column: int = -1,
) -> Iterator[IOBSentence]:
    """The sentences of a CoNLL-style column file.

    token_column (int): the token's column (0 = first).
    tag_column (int): the tag's column (-1 = last).
    YIELDS (IOBSentence): one per sentence, doc_index counting -DOCSTART- lines.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    words: List[str] = []
    tags: List[str] = []
    first = doc_index = 0
    seen_docstart = False
    n_columns = 0
    with open_utf8(path) as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if words:
                    yield IOBSentence(words, tags, first, doc_index)
                    words, tags = [], []
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if fields[0] == DOCSTART:
                if words:
                    yield IOBSentence(words, tags, first, doc_index)
                    words, tags = [], []
                if seen_docstart:
                    doc_index += 1
                seen_docstart = True
                continue
            n_columns = n_columns or len(fields)
            if len(fields) < 2 or len(fields) != n_columns:
                raise ValueError(Errors.E2208.format(
                    path=path, line=i, fmt="CoNLL", content=line[:80],
                    expected=f"{n_columns if n_columns >= 2 else 'at least 2'} tab- or "
                    "space-separated columns (token ... tag), like the lines before",
                ))
            try:
                word, tag = fields[token_column], fields[tag_column]
            except IndexError:
                raise ValueError(Errors.E2208.format(
                    path=path, line=i, fmt="CoNLL", content=line[:80],
                    expected=f"columns {token_column} (token) and {tag_column} (tag)",
                )) from None
            if not word.strip():
                raise ValueError(Errors.E2203.format(path=path, line=i))
            if not words:
                first = i
            words.append(word)
            tags.append(_check_tag(tag.strip(), path, i))
    if words:
        yield IOBSentence(words, tags, first, doc_index)


def is_two_column_tsv(path: Path, lines: int = 50) -> bool:
    """Whether the file's first non-blank lines are all 'token<TAB>tag' (the
    BioBERT IOB format)."""
    seen = 0
    with path.open(encoding="utf8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            if len(line.split("\t")) != 2:
                return False
            seen += 1
            if seen >= lines:
                break
    return True
