"""The binary relation format of GAD and EU-ADR (index, marked sentence, label; 10 CV folds)."""

from dataclasses import dataclass
from pathlib import Path
from typing import (
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Union,
)

from ..errors import Errors
from ..text_files import open_utf8
from .marking import BINARY_LABELS, BINARY_TAGS

PathT = Union[str, Path]


TEST_HEADER = ["index", "sentence", "label"]


@dataclass(frozen=True)
class BinaryRERecord:
    """One pre-anonymised sentence of GAD or EU-ADR.

    text (str): the sentence, with the entities replaced by @GENE$ / @DISEASE$.
    label (int): 1 = association, 0 = none.
    line (int): line number in its file (1-based), for error messages.
    index (Optional[int]): the index column of test.tsv, None in train.tsv.
    """

    text: str
    label: int
    line: int
    index: Optional[int] = None


def read_binary_re(
    path: PathT, *, tags: Sequence[str] = BINARY_TAGS
) -> Iterator[BinaryRERecord]:
    """Yield the records of a GAD / EU-ADR file, checking every line.

    Both layouts are read: ``sentence<TAB>label`` (train.tsv, no header) and
    ``index<TAB>sentence<TAB>label`` after an ``index<TAB>sentence<TAB>label``
    header (test.tsv); the header decides which. An empty file (dev.tsv of the
    release) yields nothing.

    path (Union[str, Path]): the file.
    tags (Sequence[str]): tags each sentence must contain exactly once; () skips
        the check.
    YIELDS (BinaryRERecord): one per line.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    n_fields = 2
    with open_utf8(path) as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            fields = line.split("\t")
            if i == 1 and fields == TEST_HEADER:
                n_fields = 3
                continue
            if len(fields) != n_fields or not fields[-2].strip():
                expected = (
                    "'sentence<TAB>label' (train.tsv layout)"
                    if n_fields == 2
                    else "'index<TAB>sentence<TAB>label' (test.tsv layout)"
                )
                raise ValueError(
                    Errors.E2301.format(
                        path=path, line=i, content=line[:80], expected=expected
                    )
                )
            index: Optional[int] = None
            if n_fields == 3:
                if not fields[0].isdigit():
                    raise ValueError(
                        Errors.E2301.format(
                            path=path, line=i, content=line[:80],
                            expected="a non-negative integer in the index column",
                        )
                    )
                index = int(fields[0])
            text, label = fields[-2], fields[-1].strip()
            if label not in BINARY_LABELS:
                raise ValueError(
                    Errors.E2302.format(path=path, line=i, label=label, labels=BINARY_LABELS)
                )
            counts = {tag: text.count(tag) for tag in tags}
            if any(n != 1 for n in counts.values()):
                raise ValueError(
                    Errors.E2303.format(path=path, line=i, counts=counts, tags=tuple(tags))
                )
            yield BinaryRERecord(text=text, label=int(label), line=i, index=index)


def read_binary_re_fold(
    root: PathT, fold: int, *, tags: Sequence[str] = BINARY_TAGS
) -> Dict[str, List[BinaryRERecord]]:
    """The train and test records of one cross-validation fold.

    root (Union[str, Path]): the data set folder with folds 1..10
        (e.g. ../shared/data/re/gad).
    fold (int): the fold number (folder name).
    tags (Sequence[str]): see read_binary_re.
    RETURNS (Dict[str, List[BinaryRERecord]]): {"train": [...], "test": [...]}.
    """
    folder = Path(root) / str(fold)
    return {
        split: list(read_binary_re(folder / f"{split}.tsv", tags=tags))
        for split in ("train", "test")
    }


def list_folds(root: PathT) -> List[int]:
    """The fold numbers of a cross-validation folder, in numeric order."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(Errors.E2001.format(path=root))
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())
