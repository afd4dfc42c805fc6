"""Length-grouped batching: every item once, fixed batch size, similar lengths."""

import random

import pytest
from spacy.util import registry

from spacy_biobert.training.batchers import batch_by_length


def test_batchers_every_item_once_and_grouped():
    random.seed(0)
    items = [[0] * random.randint(1, 100) for _ in range(1000)]
    batches = list(batch_by_length(items, 16, buffer=256))
    flat = [id(x) for b in batches for x in b]
    assert sorted(flat) == sorted(id(x) for x in items)
    assert all(len(b) <= 16 for b in batches)
    assert sum(len(b) == 16 for b in batches) >= len(batches) - 4
    padded = sum(max(len(x) for x in b) * len(b) for b in batches)
    assert padded / sum(len(x) for x in items) < 1.15  # random batches: about 1.9


def test_batchers_batch_order_is_shuffled():
    random.seed(1)
    items = [[0] * n for n in range(1, 513)]
    lengths = [max(len(x) for x in b) for b in batch_by_length(items, 16, buffer=512)]
    assert sorted(lengths) != lengths


def test_batchers_registered_and_validated():
    make = registry.batchers.get("spacy-biobert.batch_by_length.v1")
    assert len(list(make(size=4, buffer=8)([[1]] * 10))) == 3
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2501\]"):
        make(size=0)
