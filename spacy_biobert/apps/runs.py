"""Running training and evaluation as child processes, and reusing finished runs."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import Errors


def _child_env(threads: int) -> Dict[str, str]:
    env = dict(os.environ)
    if threads > 0:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


# written in folder/train once `spacy train` has exited 0: spaCy writes
# model-last at every evaluation (the first at step 0), so a model-last left by
# an interrupted run is not a trained model
TRAINED_MARK = "trained.json"


def train_and_evaluate(
    folder: Path, train_cmd: List[str], eval_cmd: List[str], threads: int
) -> Tuple[Dict[str, Any], Optional[float], float]:
    """One resumable run in `folder`: train (unless a training in
    folder/train ended: its TRAINED_MARK is there; an interrupted fine-tune
    starts over) with `train_cmd`, then
    evaluate with `eval_cmd`, which writes folder/evaluate.json; both as child
    processes with `threads` torch threads, logged to folder/run.log.

    RETURNS (Tuple[Dict[str, Any], Optional[float], float]): the scores of
        evaluate.json, the training seconds (None if training was reused)
        and the seconds of the whole run.
    """
    folder.mkdir(parents=True, exist_ok=True)
    env = _child_env(threads)
    log_path = folder / "run.log"
    started = time.perf_counter()
    train_seconds = None
    with log_path.open("w", encoding="utf8") as log:
        mark = folder / "train" / TRAINED_MARK
        if not (mark.exists() and (folder / "train" / "model-last" / "meta.json").exists()):
            shutil.rmtree(folder / "train", ignore_errors=True)
            t0 = time.perf_counter()
            _check_call(train_cmd, log, env, log_path)
            train_seconds = time.perf_counter() - t0
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text(json.dumps({"train_seconds": round(train_seconds, 1)}) + "\n", encoding="utf8")
        _check_call(eval_cmd, log, env, log_path)
    scores = json.loads((folder / "evaluate.json").read_text(encoding="utf8"))
    return scores, train_seconds, time.perf_counter() - started


def budget_args(epochs: int, steps: int, *, last_weights: bool) -> List[str]:
    """``spacy train`` overrides for a fine-tuning budget: `epochs` passes over
    the training file when epochs > 0 (the schedule's length is then counted
    from the data), else `steps` optimizer steps. With `last_weights` no model
    selection happens (the last weights are scored): spaCy evaluates at step 0
    whatever the frequency, so the dev corpus is cut to one sentence and the
    next evaluation lies past the budget.

    RETURNS (List[str]): the arguments, to append to a ``spacy train`` command.
    """
    args = [
        "--training.max_epochs", str(epochs) if epochs > 0 else "0",
        "--training.max_steps", "0" if epochs > 0 else str(steps),
    ]
    if last_weights:
        last = steps if epochs <= 0 else 10**9
        args += ["--training.eval_frequency", str(last + 1), "--corpora.dev.limit", "1"]
    return args


def budget_text(epochs: int, steps: int, batch_size: int) -> str:
    """The budget of `budget_args` in words, e.g. "1 epoch(s) of batches of 16 sentences"."""
    size = f"of batches of {batch_size} sentences"
    return f"{epochs} epoch(s) {size}" if epochs > 0 else f"{steps} steps {size}"


def write_metrics(done: Path, metrics: Dict[str, Any]) -> None:
    """Write a run's metrics last and atomically: the file's presence marks
    the run as done."""
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf8")
    tmp.replace(done)


def reuse_metrics(done: Path, wanted: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    """A finished run's metrics, if it was run with the wanted settings (the
    `keys` of `wanted`); a mismatch is an error (E022), never a silent mix of
    budgets."""
    metrics = json.loads(done.read_text(encoding="utf8"))
    diff = [k for k in keys if k in metrics and metrics[k] != wanted.get(k)]
    if diff:
        raise ValueError(Errors.E2607.format(path=done, keys=", ".join(
            f"{k}: {metrics[k]!r} there, {wanted.get(k)!r} now" for k in diff)))
    return metrics


def _check_call(cmd: List[str], log: Any, env: Dict[str, str], log_path: Path) -> None:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(Errors.E2606.format(code=proc.returncode, cmd=" ".join(cmd[1:4]), log=log_path))
