"""losses.softmax_cross_entropy against a plain numpy log-softmax, and the
losses and gradients of the three components on fixed scores, pinned to the
values the components' own loss code gave before it was shared (d43bfbf)."""

import numpy
import pytest
import spacy
from spacy.training import Example
from tiny_pipelines import REL_DATA, make_qa_nlp, qa_examples, rel_config, rel_doc
from util import make_examples as ner_examples
from util import make_ner_nlp

from spacy_biobert.losses import softmax_cross_entropy


def reference(logits, gold, normalizer, mask=None):
    """Mean cross-entropy by the textbook: log-softmax row by row."""
    loss = 0.0
    d = numpy.zeros(logits.shape, dtype="float64")
    for i, (row, g) in enumerate(zip(logits.astype("float64"), gold)):
        if g < 0:
            continue
        keep = numpy.ones(len(row), dtype=bool) if mask is None else mask[i]
        x = row[keep]
        log_p = x - x.max() - numpy.log(numpy.exp(x - x.max()).sum())
        p = numpy.zeros(len(row))
        p[keep] = numpy.exp(log_p)
        loss -= numpy.log(p[g])
        d[i] = p
        d[i, g] -= 1.0
    return loss / normalizer, d / normalizer


def _softmax(x):
    e = numpy.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_cross_entropy_matches_log_softmax():
    rng = numpy.random.RandomState(0)
    logits = rng.randn(7, 5).astype("float32") * 3
    gold = numpy.array([0, 4, -1, 2, 1, -1, 3])
    mask = rng.rand(7, 5) > 0.3
    mask[numpy.arange(7), numpy.maximum(gold, 0)] = True
    # from logits, masked; normalised by the known rows by default
    loss, d = softmax_cross_entropy(logits, gold, mask=mask, from_logits=True)
    ref_loss, ref_d = reference(logits, gold, 5, mask)
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    numpy.testing.assert_allclose(d, ref_d, atol=1e-6)
    assert not d[~mask].any() and not d[gold < 0].any()
    # from probabilities, with an explicit normaliser
    loss, d = softmax_cross_entropy(_softmax(logits), gold, normalizer=11)
    ref_loss, ref_d = reference(logits, gold, 11)
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    numpy.testing.assert_allclose(d, ref_d, atol=1e-6)
    # no known row: no loss, no gradient
    loss, d = softmax_cross_entropy(logits, numpy.full(7, -1), from_logits=True)
    assert loss == 0.0 and not d.any()


def _checksum(grads):
    """Loss-independent fingerprint of a gradient: sum and position-weighted sum."""
    flat = numpy.concatenate([numpy.asarray(g, dtype="float64").ravel() for g in grads])
    weights = numpy.random.RandomState(1).rand(len(flat))
    return [float(numpy.abs(flat).sum()), float((flat * weights).sum())]


def relation_loss(tiny_bert):
    nlp = spacy.blank("en")
    rel = nlp.add_pipe("biobert_relation_extractor", config=rel_config(tiny_bert))
    for label in ("ACTIVATOR", "INHIBITOR"):
        rel.add_label(label)
    examples = [Example(rel_doc(nlp.vocab, w, e), rel_doc(nlp.vocab, w, e, r)) for w, e, r in REL_DATA]
    rng = numpy.random.RandomState(0)
    scores = []
    for eg in examples:
        instances = rel._instances(eg.predicted)
        scores.append((instances, _softmax(rng.randn(len(instances), 3)).astype("float32")))
    loss, d = rel.get_loss(examples, scores)
    return loss, _checksum([d])


def qa_loss(tiny_bert):
    model = {"name": str(tiny_bert), "tokenizer_config": {"name": str(tiny_bert)}, "max_length": 16}
    nlp = make_qa_nlp(tiny_bert, model=model, doc_stride=4)
    nlp.initialize()
    qa = nlp.get_pipe("qa")
    examples = qa_examples(nlp)
    rng = numpy.random.RandomState(0)
    scores = [
        [[(w, rng.randn(len(w), 2).astype("float32")) for w in q_windows]
         for q_windows in qa._windows(eg.reference.text, qa.get_questions(eg.reference))]
        for eg in examples
    ]
    assert sum(len(q) for doc in scores for q in doc) > len(examples)  # several windows
    loss, grads = qa.get_loss(examples, scores)
    return loss, _checksum(grads)


def ner_loss(tiny_bert):
    nlp = make_ner_nlp(tiny_bert)
    ner = nlp.get_pipe("ner")
    examples = ner_examples(nlp)
    for eg in examples:
        for ent in eg.reference.ents:
            ner.add_label(ent.label_)
    rng = numpy.random.RandomState(0)
    scores = [_softmax(rng.randn(len(eg.predicted), len(ner.tags))).astype("float32") for eg in examples]
    loss, grads = ner.get_loss(examples, scores)
    return loss, _checksum(grads)


# (loss, [sum |d|, weighted sum of d]) from the components' code at d43bfbf
PINNED = {
    "relation": (1.0148446219308036, [1.2124871492851526, 0.04849513016925049]),
    "qa": (2.4755482494831083, [1.7351890086720232, -0.0748095072209287]),
    "ner": (1.4968295819831616, [1.3927077653934248, 0.06852334317401731]),
}


@pytest.mark.parametrize("name,func", [("relation", relation_loss), ("qa", qa_loss), ("ner", ner_loss)])
def test_component_loss_unchanged(tiny_bert, name, func):
    loss, checksum = func(tiny_bert)
    want_loss, want_checksum = PINNED[name]
    assert loss == pytest.approx(want_loss, abs=1e-6)
    assert checksum == pytest.approx(want_checksum, abs=1e-6)
