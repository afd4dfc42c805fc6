"""BRAT standoff: a folder of ``NAME.txt`` + ``NAME.ann`` pairs.

Text-bound annotations are read from the ``T`` lines::

    T1<TAB>Type start end<TAB>text
    T2<TAB>Type start end;start end<TAB>text      (discontinuous)

A discontinuous annotation gives one mention per fragment, each with the
annotation's type (and is counted as discontinuous in the reader summary).
Other lines (relations ``R``, events ``E``, attributes ``A``, normalisations
``N``, notes ``#``, equivalences ``*``) are skipped. Offsets index the ``.txt``
file's characters as stored (line ends not translated). A ``.txt`` without
``.ann`` is a document without mentions.
"""

from pathlib import Path
from typing import Dict, Iterator, List, Optional, Union

from ..errors import Errors
from ..text_files import open_utf8
from .offsets import Mention, OffsetDocument

EXPECTED = "'T<id><TAB><type> <start> <end>[;<start> <end>...]<TAB><text>'"


def read_ann(path: Path, counts: Dict[str, int]) -> List[Mention]:
    """The mentions of one .ann file."""
    mentions: List[Mention] = []
    with open_utf8(path, newline="") as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.startswith("T"):
                continue
            fields = line.split("\t")
            label, _, ranges = fields[1].partition(" ") if len(fields) >= 2 else ("", "", "")
            try:
                fragments = [tuple(int(x) for x in r.split()) for r in ranges.split(";")]
            except ValueError:
                fragments = []
            if len(fields) < 2 or not label or not fragments or any(len(f) != 2 for f in fragments):
                raise ValueError(Errors.E2208.format(
                    path=path, line=i, fmt="BRAT", content=line[:80], expected=EXPECTED,
                ))
            if len(fragments) > 1:
                counts["discontinuous"] += 1
            mentions.extend((start, end, label) for start, end in fragments)
    return mentions


def read_brat(path: Union[str, Path], counts: Optional[Dict[str, int]] = None) -> Iterator[OffsetDocument]:
    """The documents of a BRAT folder (``*.txt`` with their ``.ann``), sorted by
    name; id = the file name without suffix.

    counts (Optional[Dict[str, int]]): gets "discontinuous".
    """
    path = Path(path)
    counts = counts if counts is not None else {"discontinuous": 0}
    counts.setdefault("discontinuous", 0)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    for txt in sorted(path.glob("*.txt")):
        with open_utf8(txt, newline="", keep_bom=True) as f:  # the offsets count every character
            text = f.read()
        ann = txt.with_suffix(".ann")
        mentions = read_ann(ann, counts) if ann.exists() else []
        yield OffsetDocument(txt.stem, text, mentions)
