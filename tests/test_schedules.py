"""The learning-rate schedule that works its steps out from the training file."""

from itertools import islice

import pytest
from spacy.util import registry


def _iob(tmp_path, n_sentences):
    path = tmp_path / "train.tsv"
    path.write_text("".join(f"w{i}\tO\n\n" for i in range(n_sentences)), encoding="utf8")
    return path


def test_schedules_decay_to_zero_at_last_epoch(tmp_path):
    make = registry.schedules.get("spacy-biobert.warmup_linear_epochs.v1")
    # 50 sentences, batches of 16 -> 4 steps an epoch, 3 epochs -> 12 steps, 1 warm-up
    rates = list(islice(make(1.0, _iob(tmp_path, 50), 3, 16, warmup_ratio=0.1), 14))
    assert rates[0] == 0.0 and max(rates) == pytest.approx(1.0)
    assert rates[11] > 0.0 and rates[12] == 0.0 and rates[13] == 0.0
    assert all(a >= b for a, b in zip(rates[1:], rates[2:]))


def test_schedules_limit_and_bad_settings(tmp_path):
    make = registry.schedules.get("spacy-biobert.warmup_linear_epochs.v1")
    rates = list(islice(make(1.0, _iob(tmp_path, 50), 1, 16, warmup_ratio=0.0, limit=16), 2))
    assert rates == [1.0, 0.0]
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2502\]"):
        make(1.0, _iob(tmp_path, 5), 0, 16)
    # nlp.initialize() without a training file: a constant rate
    assert list(islice(make(0.5, None, 2, 16), 3)) == [0.5, 0.5, 0.5]


def test_schedules_max_steps(tmp_path):
    make = registry.schedules.get("spacy-biobert.warmup_linear_epochs.v1")
    # max_epochs = 0 (no epoch limit): the steps alone set the length, no file needed
    rates = list(islice(make(1.0, None, 0, 16, warmup_ratio=0.2, max_steps=10), 12))
    assert rates[0] == 0.0 and rates[2] == pytest.approx(1.0)
    assert rates[9] > 0.0 and rates[10] == 0.0
    # both set: whichever ends first (12 steps of epochs vs 5 steps)
    rates = list(islice(make(1.0, _iob(tmp_path, 50), 3, 16, warmup_ratio=0.0, max_steps=5), 6))
    assert rates[4] > 0.0 and rates[5] == 0.0
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2502\]"):
        make(1.0, None, 0, 16, max_steps=0)


def test_schedules_v2_literal_settings(tmp_path):
    import spacy_biobert.training.schedules  # noqa: F401 (v2 without a reinstall)

    v1 = registry.schedules.get("spacy-biobert.warmup_linear_epochs.v1")
    v2 = registry.schedules.get("spacy-biobert.warmup_linear_epochs.v2")
    # the same 12 steps (50 sentences, batches of 16, 3 epochs) as v1 works out
    assert list(islice(v2(1.0, 0.1, 12), 14)) == list(islice(v1(1.0, _iob(tmp_path, 50), 3, 16), 14))
    # not fitted (a pipeline set up in code): a constant rate
    assert list(islice(v2(0.5), 3)) == [0.5, 0.5, 0.5]
    for bad in ({"total_steps": -1}, {"warmup_ratio": 1.0}):
        with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2511\]"):
            v2(1.0, **bad)
