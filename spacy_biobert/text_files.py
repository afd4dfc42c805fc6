"""Opening users' text data files: as UTF-8 (a leading byte order mark
dropped), and when a file is not, an error that names the file, the line and
the byte (E2050) instead of Python's UnicodeDecodeError, which names neither
the file nor the line."""

from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional, Tuple, Union

from .errors import Errors


def first_invalid_utf8(path: Union[str, Path]) -> Optional[Tuple[int, int, int]]:
    """Where `path` first stops being UTF-8.

    RETURNS (Optional[Tuple[int, int, int]]): the line (from 1), the byte
        within that line (from 1) and the byte's value; None if it is all UTF-8.
    """
    with Path(path).open("rb") as f:
        # a newline byte never occurs inside a multi-byte UTF-8 character, so
        # decoding line by line finds the same first error as the whole file
        for line, raw in enumerate(f, start=1):
            try:
                raw.decode("utf8")
            except UnicodeDecodeError as e:
                return line, e.start + 1, raw[e.start]
    return None


@contextmanager
def open_utf8(path: Union[str, Path], newline: Optional[str] = None, keep_bom: bool = False) -> Iterator[IO[str]]:
    """`path` opened for reading as UTF-8 (like ``open(path, encoding="utf8",
    newline=newline)``); a byte that is not UTF-8, met while the block reads
    the file, raises ValueError E2050 with the file, line and byte. A byte
    order mark at the start (files saved by Windows editors) is dropped, so it
    never becomes part of the first token, unless `keep_bom` (texts whose
    character offsets count it, as BRAT's do). The file itself is only read."""
    with Path(path).open(encoding="utf8" if keep_bom else "utf-8-sig", newline=newline) as f:
        try:
            yield f
        except UnicodeDecodeError:
            where = first_invalid_utf8(path)
            if where is None:  # not this file's bytes: some other decoding failed
                raise
            line, column, byte = where
            raise ValueError(Errors.E2050.format(path=path, line=line, column=column, byte=f"{byte:#04x}")) from None


def read_utf8(path: Union[str, Path]) -> str:
    """The whole text of `path` (UTF-8; E2050 otherwise)."""
    with open_utf8(path) as f:
        return f.read()
