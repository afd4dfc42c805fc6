"""benchmarks/train_speed.py on the tiny BERT: both arms train on the same
batches, the same number of steps and sentences, and the figures add up."""

import pytest
from util import TRAIN_DATA


def _sentences():
    out = []
    for text, ents in TRAIN_DATA:
        words = text.split()
        tags = ["O"] * len(words)
        for start, end, _ in ents:
            tags[start] = "B"
            for i in range(start + 1, end):
                tags[i] = "I"
        out.append((words, tags))
    return out


def test_train_speed_arms_same_work_and_accounting(tiny_bert):
    from spacy_biobert.benchmarks.train_speed import run, table

    sentences = _sentences() * 2  # 8 sentences, batches of 3: 3, 3, 2
    r = run(str(tiny_bert), sentences, batch_size=3, rounds=2, profile_steps=2, epoch_sentences=80)
    assert r["batches_per_round"] == 3
    # the same batches, in the same order, in both arms: 2 rounds x 3 steps
    assert sorted(r["batch_sentences"]["spacy"][:3]) == [2, 3, 3]
    assert r["batch_sentences"]["spacy"] == r["batch_sentences"]["plain_hf"]
    for key in ("spacy", "plain_hf"):
        a = r[key]
        assert (a["steps"], a["sentences"]) == (6, 16)
        assert len(a["round_seconds"]) == 2
        assert a["seconds"] == pytest.approx(sum(a["round_seconds"]), abs=0.01)
        assert a["sentences_per_s"] == pytest.approx(16 / a["seconds"], rel=0.01)
        assert a["steps_per_s"] == pytest.approx(6 / a["seconds"], rel=0.01)
        assert a["s_per_epoch"] == pytest.approx(80 / a["sentences_per_s"], rel=0.01, abs=0.1)
        best = min(a["round_seconds"])
        assert a["best_round_s"] == best
        assert a["best_s_per_epoch"] == pytest.approx(80 / (8 / best), rel=0.01, abs=0.1)
        assert 0 < a["optimizer_s"] and a["update_s"] + a["optimizer_s"] <= a["seconds"] + 0.01
    assert r["ratio_s_per_epoch"] == pytest.approx(r["spacy"]["seconds"] / r["plain_hf"]["seconds"], rel=0.01)
    # both arms trained: a loss was summed over the timed steps
    assert r["spacy"]["loss_ner"] > 0 and r["plain_hf"]["loss"] > 0
    prof = r["spacy_profile"]
    assert prof["steps"] == 2
    # thinc's Adam, the transformer's forward and backward were found in the profile
    for phase in ("transformer_forward", "transformer_backward", "optimizer_thinc_adam"):
        assert 0 < prof["phase_seconds"][phase] <= prof["seconds"]
    assert "ratio spaCy / plain" in table(r)


def test_train_speed_bad_settings_and_file(tmp_path):
    from spacy_biobert.benchmarks.train_speed import read_sentences, run

    with pytest.raises(ValueError, match="E2771"):
        run("embedded", [(["a"], ["O"])], batch_size=0)
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"E2770.*has no sentences"):
        read_sentences(empty, 0)
    with pytest.raises(ValueError, match=r"E2770.*is not a file"):
        read_sentences(tmp_path / "missing.tsv", 0)
