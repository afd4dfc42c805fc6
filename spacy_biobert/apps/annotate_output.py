"""The output of ``spacy-biobert annotate`` / ``annotate-ray``: a resumable, locked JSONL file.

What an output may be, checked before anything is created, truncated or read:

- Never the input: not the input file itself, also through a symbolic or hard
  link (E2640), and not inside an input folder (E2641; it would be read as
  input while written).
- A regular file (created with its folders if missing) is resumed: the ids of
  its records are read and skipped, and a last line cut short by a kill is
  truncated away.
- ``-`` is stdout: records are streamed there, nothing is resumed or locked,
  ``overwrite`` means nothing; the caller keeps its messages on stderr.
- ``/dev/null`` (timing runs): written to, nothing resumed, locked or synced.
- Anything else that is not a regular file (a character device such as
  ``/dev/full``, a FIFO, a socket, a folder, a block device) is refused (E2642):
  none can be resumed, and reading an endless one never ends.

Lock. The output file itself is locked (``flock``, exclusive, not waiting)
from before the resume scan to the last record, so a second run on the same
output fails at once (E2643) instead of writing every id a second time. The
kernel drops the lock when the process ends, crash or kill included, so no
stale lock is left behind; ``overwrite`` empties the locked file rather than
deleting it, so that it cannot take the file away from a run still writing it.
Where ``flock`` is missing or refused (Windows, some network filesystems) the
run goes on unlocked, with warning W2640.

The resume scan is bounded: it reads the file only up to the size it has once
locked, and a line (or a partial last line) longer than `MAX_LINE_BYTES` is an
error naming the file and line (E2644), not a memory blow-up. A partial last
line is truncated only when it is the start of a record (``{"id": ``) and
after every complete line was found to be one: a file that is not an
annotate output is refused as it is (E2617), never cut.
"""

import io
import json
import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, Iterator, Optional, Set, Tuple, Union

from ..errors import Errors, Warnings
from .file_lock import lock

MAX_LINE_BYTES = 64 << 20
"""The longest output line the resume scan reads (64 MiB)."""

STDOUT = "-"
RECORD_START = b'{"id": '  # how every record written by annotate begins

PathT = Union[str, Path]


def is_stdout(output: PathT) -> bool:
    """Whether `output` names stdout (``-``)."""
    return str(output) == STDOUT


def output_kind(output: PathT, input_path: Optional[PathT] = None) -> str:
    """'stdout', 'null' (/dev/null) or 'file' (a regular file, or none yet);
    raises E2640/E2641 for the input, E2642 for anything else."""
    if is_stdout(output):
        return "stdout"
    output = Path(output)
    if input_path is not None:
        check_not_input(output, Path(input_path))
    try:
        st = os.stat(output)
    except FileNotFoundError:
        return "file"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if _is_devnull(st):
        return "null"
    raise ValueError(Errors.E2642.format(path=output, kind=_kind_name(st.st_mode)))


def check_not_input(output: Path, input_path: Path) -> None:
    """Refuse an `output` that is `input_path` (a file, also through links) or lies in it (a folder)."""
    if not input_path.exists():
        return
    out_resolved = Path(os.path.abspath(output)).resolve()
    if input_path.is_dir():
        folder = input_path.resolve()
        if out_resolved == folder or folder in out_resolved.parents:
            raise ValueError(Errors.E2641.format(path=output, input=input_path))
        inputs = [p for p in input_path.iterdir() if p.is_file()]
    else:
        inputs = [input_path]
    try:
        st = os.stat(output)
    except OSError:
        return
    for path in inputs:
        other = os.stat(path)
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise ValueError(Errors.E2640.format(path=output, input=path))


def _is_devnull(st: os.stat_result) -> bool:
    null = os.stat(os.devnull)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev


def _kind_name(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"), (stat.S_ISCHR, "character device"), (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"), (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


class AnnotateOutput:
    """An output ready to append to: `done`, the ids already in it, and the
    lock (for a file) held until `close` (or the end of `append`)."""

    def __init__(
        self, path: PathT, kind: str, file: Optional[BinaryIO] = None,
        done: Optional[Set[str]] = None, truncated_bytes: int = 0,
    ) -> None:
        self.path = path
        self.kind = kind
        self.done: Set[str] = done if done is not None else set()
        self.truncated_bytes = truncated_bytes
        self._file = file

    @classmethod
    def open(
        cls, output: PathT, *, input_path: Optional[PathT] = None, overwrite: bool = False,
    ) -> "AnnotateOutput":
        """Check `output` (see the module docstring), lock it, empty it with
        `overwrite`, and read the ids already in it."""
        kind = output_kind(output, input_path)
        if kind != "file":
            return cls(output, kind)
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+b")  # never truncates nor deletes: the lock is taken first
        try:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):  # replaced since it was checked
                raise ValueError(Errors.E2642.format(path=path, kind=_kind_name(st.st_mode)))
            lock(f, Errors.E2643.format(path=path), Warnings.W2640.format(path=path, err="{err}"))
            if overwrite:
                f.truncate(0)
            done, cut = scan_done_ids(f, path)
        except BaseException:
            f.close()
            raise
        return cls(path, kind, f, done, cut)

    @contextmanager
    def append(self) -> Iterator[IO[str]]:
        """A text stream to write the records to. At the end: flushed, synced
        (a file) and closed, which releases the lock."""
        if self.kind == "stdout":
            with _stdout() as out:
                yield out
        elif self.kind == "null":
            with open(os.devnull, "w", encoding="utf8") as out:
                yield out
        else:
            assert self._file is not None, "append() on a closed output"
            self._file.seek(0, os.SEEK_END)
            out = io.TextIOWrapper(self._file, encoding="utf8", newline="\n")  # type: ignore[arg-type]
            self._file = None
            try:
                yield out
            finally:
                try:
                    out.flush()
                    os.fsync(out.fileno())
                finally:
                    out.close()

    def close(self) -> None:
        """Release the lock (nothing to do once `append` has ended)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "AnnotateOutput":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextmanager
def _stdout() -> Iterator[IO[str]]:
    """stdout as UTF-8 with "\\n" line ends, whatever the locale; not closed."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    out = io.TextIOWrapper(buffer, encoding="utf8", newline="\n")
    try:
        yield out
    finally:
        out.flush()
        out.detach()


def prepare_output(
    output: PathT, stats: Any, *, overwrite: bool = False, input_path: Optional[PathT] = None,
) -> AnnotateOutput:
    """`AnnotateOutput.open`, setting `stats.done_before` and `stats.truncated_bytes`.

    RETURNS (AnnotateOutput): the output, locked; its `done` are the ids in it.
    """
    out = AnnotateOutput.open(output, input_path=input_path, overwrite=overwrite)
    stats.done_before = len(out.done)
    stats.truncated_bytes = out.truncated_bytes
    return out


def read_done_ids(output: PathT) -> Tuple[Set[str], int]:
    """The ids already in `output`, after truncating a cut last record away
    (under the lock, released on return).

    RETURNS (Tuple[Set[str], int]): the ids, and the number of bytes truncated.
    """
    if output_kind(output) != "file" or not os.path.exists(output):
        return set(), 0
    with AnnotateOutput.open(output) as out:
        return out.done, out.truncated_bytes


def scan_done_ids(f: BinaryIO, path: PathT) -> Tuple[Set[str], int]:
    """The ids of the records in the open file `f`, up to its present size;
    then a cut last record is truncated away. RETURNS the ids and the bytes cut."""
    size = os.fstat(f.fileno()).st_size
    keep = _last_newline_end(f, size, path)
    done: Set[str] = set()
    f.seek(0)
    pos = line_no = 0
    while pos < keep:
        line_no += 1
        line = f.readline(min(MAX_LINE_BYTES + 1, keep - pos))
        if not line:  # shrunk by someone else meanwhile
            break
        pos += len(line)
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(Errors.E2644.format(where=f"{path}:{line_no}", limit=MAX_LINE_BYTES))
        try:
            doc_id = json.loads(line)["id"]
        except (ValueError, KeyError, TypeError, RecursionError) as e:
            raise ValueError(Errors.E2617.format(path=path, line=line_no)) from e
        done.add(str(doc_id))
    if keep < size:
        f.seek(keep)
        tail = f.read(size - keep)
        if not (tail.startswith(RECORD_START) or RECORD_START.startswith(tail)):
            raise ValueError(Errors.E2617.format(path=path, line=line_no + 1))
        f.truncate(keep)
    return done, size - keep


def _last_newline_end(f: BinaryIO, size: int, path: PathT) -> int:
    """The end of the last complete line of `f` (of `size` bytes), looking
    back at most MAX_LINE_BYTES (E2644 beyond)."""
    if not size:
        return 0
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return size
    block = 1 << 16
    pos = size
    floor = max(0, size - MAX_LINE_BYTES - 1)
    while pos > floor:
        start = max(floor, pos - block)
        f.seek(start)
        chunk = f.read(pos - start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    if floor > 0:
        raise ValueError(Errors.E2644.format(where=f"{path} (its last line)", limit=MAX_LINE_BYTES))
    return 0
