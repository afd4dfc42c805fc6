"""Exclusive, non-waiting locks that keep two runs off one output.

``lock`` takes an exclusive ``flock`` on an open file without waiting: a
second process fails at once with the caller's error instead of interleaving
its writes with the first's. The kernel drops the lock when the holder ends,
crash or kill included, so no stale lock is ever left to remove by hand.
Where ``flock`` is missing or refused (Windows, some network filesystems) the
run goes on unlocked, with the caller's warning.

``folder_lock`` holds such a lock on ``<folder>/.lock`` while a block runs:
the resumable commands (``compare``, ``re-cv``, ``pretrain``) write their runs,
checkpoints and result files into one folder, and two of them on the same
folder would train the same run twice and overwrite each other's files.
"""

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Union

from ..errors import Errors, Warnings

LOCK_NAME = ".lock"


def lock(f: IO[Any], busy: str, unlocked: str) -> None:
    """Take an exclusive flock on `f` without waiting: ValueError(busy) if
    another process (or another open of the file) holds it; warning
    `unlocked` (formatted with ``err``), and no lock, where flock is not
    available."""
    try:
        import fcntl
    except ImportError:  # Windows
        warnings.warn(unlocked.format(err="no fcntl.flock on this system"), stacklevel=3)
        return
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        raise ValueError(busy) from e
    except OSError as e:
        warnings.warn(unlocked.format(err=e), stacklevel=3)


@contextmanager
def folder_lock(folder: Union[str, Path], command: str) -> Iterator[None]:
    """Hold an exclusive lock on folder/.lock (folder must exist) while the
    block runs; E2675 at once if another `command` run holds it."""
    path = Path(folder) / LOCK_NAME
    with path.open("a", encoding="utf8") as f:
        lock(f, Errors.E2675.format(folder=folder, command=command, path=path),
             Warnings.W2675.format(folder=folder, command=command, err="{err}"))
        yield


__all__ = ["LOCK_NAME", "folder_lock", "lock"]
