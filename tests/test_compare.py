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
    assert "| d | +0.00 ± 14.14 | 1/2 |" in md  # paired differences: +10 and -10


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
