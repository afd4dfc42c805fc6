"""spacy_biobert._fork: multiprocessing children (nlp.pipe's workers) die with
their parent, even one killed with SIGKILL; other children are left alone."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from spacy_biobert.benchmarks.reliability import alive, children

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

PIPE_SCRIPT = """
import itertools, sys
import spacy
import spacy_biobert  # noqa: F401

nlp = spacy.load(sys.argv[1])
texts = ("patients with breast cancer and colon cancer ." for _ in itertools.count())
for i, doc in enumerate(nlp.pipe(texts, batch_size=4, n_process=2)):
    if i == 0:
        print("running", flush=True)
"""

PROBE_SCRIPT = """
import json, multiprocessing as mp, os, sys, threading
import spacy_biobert  # noqa: F401
from spacy_biobert import _fork


def probe(queue):
    names = [t.name for t in threading.enumerate()]
    queue.put({"signal": _fork.parent_death_signal(), "watch": _fork.WATCH_THREAD_NAME in names})


def in_bare_fork(code):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            result = code()
        except BaseException as e:  # noqa: B036
            result = repr(e)
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    data = os.read(r, 4096)
    _, status = os.waitpid(pid, 0)
    return json.loads(data) if data else {"exit": os.waitstatus_to_exitcode(status)}


def wrong_parent():
    _fork.die_with_parent(os.getppid() + 100000)
    return "still alive"


if __name__ == "__main__":
    results = {}
    for method in sys.argv[1:]:
        ctx = mp.get_context(method)
        queue = ctx.Queue()
        p = ctx.Process(target=probe, args=(queue,))
        p.start()
        results[method] = queue.get(timeout=120)
        p.join()
    results["bare_fork"] = in_bare_fork(
        lambda: {"signal": _fork.parent_death_signal(),
                 "watch": _fork.WATCH_THREAD_NAME in [t.name for t in threading.enumerate()]})
    results["wrong_parent"] = in_bare_fork(wrong_parent)
    results["watchdog"] = in_bare_fork(lambda: _fork._watch_parent(os.getppid() + 100000, 0.01))
    print(json.dumps(results))
"""


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def test_nlp_pipe_workers_die_with_killed_parent(ner_dir, tmp_path):
    """SIGKILL a process in the middle of nlp.pipe(n_process=2): its two
    workers go too (before: they lived on as orphans, each with the model)."""
    script = tmp_path / "pipe.py"
    script.write_text(PIPE_SCRIPT, encoding="utf8")
    proc = subprocess.Popen([sys.executable, str(script), str(ner_dir)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: List[int] = []
    try:
        line = proc.stdout.readline()
        assert line.strip() == "running", proc.stderr.read()[-3000:]
        workers = children(proc.pid)
        assert len(workers) == 2 and all(alive(w) for w in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30  # a bound for a loaded machine, not a timing
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.05)
        assert [w for w in workers if alive(w)] == [], "workers outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)


def test_which_children_die_with_their_parent(tmp_path):
    """fork and spawn children of multiprocessing get the death signal and the
    watchdog; a bare os.fork child (a daemon) gets neither; a child whose
    parent has already changed ends at once; the watchdog ends a child whose
    parent changes."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE_SCRIPT, encoding="utf8")
    proc = subprocess.run([sys.executable, str(script), "fork", "spawn"], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["fork"] == {"signal": signal.SIGTERM, "watch": True}
    assert results["spawn"] == {"signal": signal.SIGTERM, "watch": True}
    assert results["bare_fork"] == {"signal": 0, "watch": False}
    assert results["wrong_parent"] == {"exit": 1}
    assert results["watchdog"] == {"exit": 1}
