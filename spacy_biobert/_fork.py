"""Keep ``nlp.pipe(n_process=N)`` from hanging.

spaCy starts its worker processes with ``fork`` on Linux. A child forked after
PyTorch has run a multi-threaded op inherits an OpenMP thread pool it cannot
use, and its first parallel op waits forever. PyTorch's own DataLoader avoids
this by running its workers with one thread; we do the same for every child
forked once spacy_biobert is imported (N workers with one thread each is also
the right use of N cores).
"""

import os
import sys

_INSTALLED = False


def _one_thread_in_child() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def install_fork_guard() -> None:
    """Register the after-fork hook once per process (idempotent)."""
    global _INSTALLED
    if not _INSTALLED and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_one_thread_in_child)
        _INSTALLED = True
