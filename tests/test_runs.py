"""apps/runs.py: the resumable train-then-evaluate run of compare and re-cv,
and the budget arguments both give spacy train."""

import json
import sys

import pytest

from spacy_biobert.apps.runs import (
    TRAINED_MARK,
    budget_args,
    budget_text,
    train_and_evaluate,
)

# stand-ins for `spacy train` and `evaluate-re` as child processes: the trainer
# counts its runs, writes model-last as spaCy does, and fails on request; the
# evaluator reports what model-last holds
_TRAIN = """
import json, os, sys
from pathlib import Path
folder = Path(sys.argv[1])
with open(folder / "train_runs", "a") as f:
    f.write("run\\n")
(folder / "train" / "model-last").mkdir(parents=True, exist_ok=True)
(folder / "train" / "model-last" / "meta.json").write_text(json.dumps({"trained": True}))
sys.exit(int(os.environ.get("FAKE_TRAIN_EXIT", "0")))
"""
_EVALUATE = """
import json, sys
from pathlib import Path
folder = Path(sys.argv[1])
meta = json.loads((folder / "train" / "model-last" / "meta.json").read_text())
(folder / "evaluate.json").write_text(json.dumps({"f": 1.0 if meta["trained"] else 0.0}))
"""


def _run(folder):
    return train_and_evaluate(
        folder, [sys.executable, "-c", _TRAIN, str(folder)], [sys.executable, "-c", _EVALUATE, str(folder)], 1
    )


def _train_runs(folder):
    return (folder / "train_runs").read_text().count("run")


def test_an_interrupted_training_is_run_again_not_scored(tmp_path):
    # what a killed spacy train leaves: the model-last of its step-0 evaluation
    stale = tmp_path / "train" / "model-last"
    stale.mkdir(parents=True)
    (stale / "meta.json").write_text(json.dumps({"trained": False}))
    scores, train_seconds, _ = _run(tmp_path)
    assert scores["f"] == 1.0 and _train_runs(tmp_path) == 1
    assert json.loads((tmp_path / "train" / TRAINED_MARK).read_text())["train_seconds"] == round(train_seconds, 1)
    # a training that ended is reused: evaluated again, not trained again
    scores, train_seconds, _ = _run(tmp_path)
    assert scores["f"] == 1.0 and train_seconds is None and _train_runs(tmp_path) == 1


def test_a_failed_training_leaves_no_mark_and_is_run_again(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRAIN_EXIT", "3")
    with pytest.raises(RuntimeError, match="E2606"):
        _run(tmp_path)
    assert (tmp_path / "train" / "model-last" / "meta.json").exists()
    assert not (tmp_path / "train" / TRAINED_MARK).exists()
    monkeypatch.setenv("FAKE_TRAIN_EXIT", "0")
    scores, train_seconds, _ = _run(tmp_path)
    assert train_seconds is not None and _train_runs(tmp_path) == 2 and scores["f"] == 1.0


def test_budget_args_epochs_steps_and_last_weights():
    assert budget_args(2, 99, last_weights=False) == ["--training.max_epochs", "2", "--training.max_steps", "0"]
    assert budget_args(0, 30, last_weights=True) == [
        "--training.max_epochs", "0", "--training.max_steps", "30",
        "--training.eval_frequency", "31", "--corpora.dev.limit", "1",
    ]
    # an epoch budget with the last weights: no evaluation after step 0
    assert budget_args(5, 99, last_weights=True)[4:6] == ["--training.eval_frequency", str(10**9 + 1)]
    assert budget_text(1, 150, 16) == "1 epoch(s) of batches of 16 sentences"
    assert budget_text(0, 150, 32) == "150 steps of batches of 32 sentences"
