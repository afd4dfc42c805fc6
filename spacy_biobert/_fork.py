"""Keep ``nlp.pipe(n_process=N)`` from hanging, and its workers from outliving it.

spaCy starts its worker processes with ``fork`` on Linux. A child forked after
PyTorch has run a multi-threaded op inherits an OpenMP thread pool it cannot
use, and its first parallel op waits forever. PyTorch's own DataLoader avoids
this by running its workers with one thread; we do the same for every child
forked once spacy_biobert is imported (N workers with one thread each is also
the right use of N cores).

A parent killed outright (SIGKILL, the OOM killer) cannot stop its workers:
they would live on as orphans, each holding a copy of the model. So every
``multiprocessing`` child of a process that uses spacy_biobert (spaCy's
``nlp.pipe`` workers, a DataLoader's workers; fork, spawn or forkserver) dies
with its parent:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends the child
  SIGTERM the moment its parent goes; then the parent's pid (recorded by
  ``multiprocessing`` before the child was started) is compared with
  ``os.getppid()``, for a parent that died before the ``prctl``;
- everywhere (macOS has no ``prctl``; and as a backstop for a child that
  handles or ignores SIGTERM), a daemon thread checks ``os.getppid()`` every
  second and ends the child with ``os._exit(1)`` once the parent has changed.

Fork and forkserver children get this from ``multiprocessing``'s after-fork
hooks (run before the child's target); a spawned child, which runs none, when
it imports spacy_biobert while unpickling its target. A bare ``os.fork()``, as
daemonising code does, and ``subprocess`` children are left alone: they may be
meant to outlive their parent.

Caveat: Linux sends the death signal when the *thread* that started the child
exits, not only the process: a pool started by a thread that then ends would
lose its workers. ``nlp.pipe`` starts its workers from the thread iterating
it, which holds on to them until the iteration ends, so this does not arise
there.
"""

import os
import signal
import sys
import threading
import time

_INSTALLED = False
_WATCHING = False  # this process has its watchdog thread (reset in a fork child: it has none)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_GET_PDEATHSIG = 2
WATCH_SECONDS = 1.0
WATCH_THREAD_NAME = "spacy-biobert-parent-watch"


class _Guard:
    """The (weak-referenceable, kept alive) key of multiprocessing's after-fork registry."""


_GUARD = _Guard()


def _in_forked_child() -> None:
    global _WATCHING
    _WATCHING = False
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _prctl(option: int, arg: object) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)  # the C library already loaded
        return libc.prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send this process `sig` when its parent (thread) exits.

    RETURNS (bool): whether it was set (False off Linux or if prctl fails).
    """
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def parent_death_signal() -> int:
    """The death signal set for this process (0: none, or not Linux)."""
    import ctypes

    value = ctypes.c_int(0)
    return value.value if _prctl(PR_GET_PDEATHSIG, ctypes.byref(value)) else 0


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:
            os._exit(1)


def die_with_parent(parent_pid: int, interval: float = WATCH_SECONDS) -> None:
    """End this process when `parent_pid`, its parent, goes (see the module docstring).

    Once per process; ends it at once if its parent is no longer `parent_pid`.

    parent_pid (int): the parent's pid, recorded before this process started.
    interval (float): seconds between two checks of the watchdog thread.
    """
    global _WATCHING
    if _WATCHING:
        return
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before the prctl: no signal will come
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid, interval), name=WATCH_THREAD_NAME, daemon=True
    ).start()
    _WATCHING = True


def _mp_child_dies_with_parent(_guard: object) -> None:
    """Run by multiprocessing in its fork and forkserver children, before their target."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None or not parent.pid:
        return
    if multiprocessing.get_start_method(allow_none=True) in (None, "fork"):
        die_with_parent(parent.pid)
    else:  # forkserver: the child's parent is the fork server, which ends with its owner
        die_with_parent(os.getppid())


def _spawned_child_dies_with_parent() -> None:
    """At import, in a spawn (or forkserver) child still being set up (which
    imports spacy_biobert while unpickling its target): multiprocessing runs
    no after-fork hooks in spawned children. Its parent is the process that
    started it."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        die_with_parent(os.getppid())


def install_fork_guard() -> None:
    """Register the after-fork hooks once per process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_forked_child)
    from multiprocessing import util as mp_util

    mp_util.register_after_fork(_GUARD, _mp_child_dies_with_parent)
    _INSTALLED = True
    _spawned_child_dies_with_parent()
