"""The start-point experiment: runs, resume, aggregation (tiny BERT, a few steps)."""

import json
from pathlib import Path

import pytest

from spacy_biobert.apps.compare import (
    CompareSettings,
    aggregate,
    markdown_table,
    mean_std,
    parse_starts,
    plan_runs,
    run_experiment,
)

ROOT = Path(__file__).parent.parent


def _write_split(path: Path, n: int) -> None:
    from util import TRAIN_DATA

    lines = []
    for i in range(n):
        text, ents = TRAIN_DATA[i % len(TRAIN_DATA)]
        tags = ["O"] * len(text.split())
        for s, e, label in ents:
            tags[s] = f"B-{label}"
            for j in range(s + 1, e):
                tags[j] = f"I-{label}"
        lines += [f"{w}\t{t}" for w, t in zip(text.split(), tags)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")


def test_compare_parse_starts_and_plan():
    assert parse_starts(["bert=embedded", "bio=out/model"]) == [("bert", "embedded"), ("bio", "out/model")]
    assert parse_starts(["some/folder"]) == [("folder", "some/folder")]
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2604\]"):
        parse_starts(["=x"])
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2605\]"):
        parse_starts(["a=x", "a=y"])
    runs = plan_runs(["d1", "d2"], [("a", "x"), ("b", "y")], [0, 1])
    assert len(runs) == 8
    # each seed's start points come together, so a partial experiment is paired
    assert [(r.dataset, r.start, r.seed) for r in runs[:2]] == [("d1", "a", 0), ("d1", "b", 0)]


def test_compare_aggregate_mean_std_and_table():
    assert mean_std([1.0]) == (1.0, None)
    m, sd = mean_std([1.0, 2.0, 3.0])
    assert m == 2.0 and sd == pytest.approx(1.0)
    runs = [
        {"dataset": "d", "start": s, "seed": seed, "precision": p, "recall": p, "f1": p}
        for s, seed, p in [("a", 0, 0.5), ("a", 1, 0.7), ("b", 0, 0.6), ("b", 1, 0.6)]
    ]
    res = aggregate(runs, ["d"], ["a", "b"])
    assert res["table"]["d"]["a"]["f1"]["mean"] == 60.0
    assert res["table"]["d"]["a"]["f1"]["std"] == pytest.approx(14.14, abs=0.01)
    assert res["table"]["d"]["b"]["f1"]["values"] == [60.0, 60.0]
    res.update({"runs": runs, "seeds": [0, 1], "settings": {"steps": 5}})
    md = markdown_table(res)
    assert "| d | 60.00 ± 14.14 |" in md
    # paired differences +10 and -10: mean 0, std 14.14, t(0.975, 1 df) = 12.706
    assert "| d | b | +0.00 ± 14.14 | [-127.06, +127.06] | 1/2 |" in md
    assert res["paired"]["d"]["b"] == {"n": 2, "mean": 0.0, "std": 14.14, "ci_low": -127.06, "ci_high": 127.06,
                                       "confidence": 0.95, "b_better": 1, "b_worse": 1}


def test_paired_difference_interval():
    from spacy_biobert.apps.paired import paired_difference, t_critical

    # Student's t quantiles (0.975) from tables
    for df, t in ((1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042)):
        assert t_critical(df) == pytest.approx(t, abs=5e-4)
    assert t_critical(4, 0.90) == pytest.approx(2.132, abs=5e-4)
    p = paired_difference([1, 2, 3, 4, 5], [2, 2.5, 4, 6, 5])
    # differences 1, .5, 1, 2, 0: mean .9, std .7416, half-width 2.776 * .7416 / sqrt(5) = .9208
    assert p["mean"] == pytest.approx(0.9) and p["std"] == pytest.approx(0.74162, abs=1e-5)
    assert (p["ci_low"], p["ci_high"]) == (pytest.approx(-0.0208, abs=1e-4), pytest.approx(1.8208, abs=1e-4))
    assert (p["b_better"], p["b_worse"], p["n"]) == (4, 0, 5)
    one = paired_difference([1.0], [3.0])
    assert one["mean"] == 2.0 and one["ci_low"] is None and one["std"] is None
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])


def test_compare_runs_and_resumes(tiny_bert, tmp_path):
    data = tmp_path / "data" / "toy"
    data.mkdir(parents=True)
    for split, n in (("train", 12), ("dev", 4), ("test", 8)):
        _write_split(data / f"{split}.tsv", n)
    settings = CompareSettings(config=str(ROOT / "configs" / "test" / "ner.cfg"),
                               data_dir=str(tmp_path / "data"), steps=30, learning_rate=5e-3,
                               batch_size=4, threads=1)
    starts = [("a", str(tiny_bert)), ("b", str(tiny_bert))]
    out = tmp_path / "out"
    messages = []
    res = run_experiment(out, ["toy"], starts, [0], settings, echo=messages.append)
    assert set(res["table"]["toy"]) == {"a", "b"}
    run_a = out / "runs" / "toy" / "a" / "seed0"
    metrics = json.loads((run_a / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["n_sentences"] == 8 and metrics["threads"] == 1
    assert metrics["train_seconds"] > 0  # trained in this run
    assert (run_a / "train" / "model-last").exists() and not (run_a / "train" / "model-best").exists()
    # same base model, same seed, same settings: the same result (both learned
    # the four training sentences, which the test split repeats)
    f1s = [r["f1"] for r in res["runs"]]
    assert f1s == [1.0, 1.0]
    assert [r["precision"] for r in res["runs"]] == [r["recall"] for r in res["runs"]] == [1.0, 1.0]
    assert (out / "compare_results.md").read_text().startswith("### NER test scores")
    # resume: finished runs are skipped; a run without metrics.json is redone from its model
    (out / "runs" / "toy" / "b" / "seed0" / "metrics.json").unlink()
    messages.clear()
    res2 = run_experiment(out, ["toy"], starts, [0], settings, echo=messages.append)
    assert "1 already done, 1 to go" in messages[0]
    assert [r["f1"] for r in res2["runs"]] == f1s
    redone = json.loads((out / "runs" / "toy" / "b" / "seed0" / "metrics.json").read_text())
    assert redone["train_seconds"] is None  # evaluated again from its model, not retrained
    assert json.loads((run_a / "metrics.json").read_text()) == metrics
    # another budget in the same folder: an error, not a silent mix
    from dataclasses import replace

    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2607\].*steps: 30 there, 31 now"):
        run_experiment(out, ["toy"], starts, [0], replace(settings, steps=31), echo=messages.append)
    # a second table over some of the same runs (e.g. a curve) reuses them
    messages.clear()
    res3 = run_experiment(out, ["toy"], starts[:1], [0], settings, echo=messages.append, name="curve")
    assert messages[0].startswith("1 runs, 1 already done, 0 to go")
    assert [r["f1"] for r in res3["runs"]] == f1s[:1]
    assert res3["start_labels"] == ["a"] and (out / "curve.md").exists()


def test_compare_epochs_and_dev_selection(tiny_bert, tmp_path):
    """--epochs N --select dev: N passes over the training file, the whole dev
    split scored during training, model-best (not the last weights) scored on test."""
    data = tmp_path / "data" / "toy"
    data.mkdir(parents=True)
    for split, n in (("train", 12), ("dev", 4), ("test", 8)):
        _write_split(data / f"{split}.tsv", n)
    settings = CompareSettings(config=str(ROOT / "configs" / "test" / "ner.cfg"), data_dir=str(tmp_path / "data"),
                               epochs=6, select="dev", learning_rate=5e-3, batch_size=4, threads=1)
    from spacy_biobert.apps.compare import Run, evaluate_command, train_command

    run = Run(dataset="toy", start="a", base_model=str(tiny_bert), seed=0)
    cmd = train_command(run, settings, tmp_path / "x")
    assert cmd[cmd.index("--training.max_epochs") + 1] == "6" and cmd[cmd.index("--training.max_steps") + 1] == "0"
    assert "--corpora.dev.limit" not in cmd and "--training.eval_frequency" not in cmd
    assert evaluate_command(run, settings, tmp_path / "x")[4].endswith("model-best")
    out = tmp_path / "out"
    res = run_experiment(out, ["toy"], [("a", str(tiny_bert))], [0], settings, echo=lambda m: None)
    folder = out / "runs" / "toy" / "a" / "seed0"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["epochs"] == 6 and metrics["select"] == "dev"
    assert (folder / "train" / "model-best").exists() and not (folder / "train" / "model-last").exists()
    log = (folder / "run.log").read_text()
    assert "seed0/train/model-best" in log
    # 12 sentences in batches of 4: 3 steps an epoch, 18 in all (spaCy logs steps 0..17)
    assert "Training length from the data: 18 steps" in log
    # the dev score of the chosen model is the best dev score of the run (4 whole dev sentences)
    best = json.loads((folder / "train" / "model-best" / "meta.json").read_text())["performance"]["ents_f"]
    assert metrics["dev_f1"] == best and best > 0
    assert res["runs"][0]["f1"] == metrics["f1"]
    assert "model-best (chosen on the whole dev split) is scored" in (out / "compare_results.md").read_text()


def test_compare_missing_data_and_failed_run(tiny_bert, tmp_path):
    settings = CompareSettings(data_dir=str(tmp_path), steps=1)
    with pytest.raises(FileNotFoundError, match="train.tsv"):
        run_experiment(tmp_path / "out", ["nope"], [("a", str(tiny_bert))], [0], settings, echo=lambda m: None)
    data = tmp_path / "toy"
    data.mkdir()
    for split in ("train", "dev", "test"):
        _write_split(data / f"{split}.tsv", 4)
    settings = CompareSettings(config=str(ROOT / "configs" / "test" / "ner.cfg"), data_dir=str(tmp_path),
                               steps=1, threads=1)
    with pytest.raises(RuntimeError, match=r"\(spacy-biobert\) \[E2606\].*run\.log"):
        run_experiment(tmp_path / "out", ["toy"], [("a", str(tmp_path / "no_such_model"))], [0],
                       settings, echo=lambda m: None)
    assert "no_such_model" in (tmp_path / "out" / "runs" / "toy" / "a" / "seed0" / "run.log").read_text()
