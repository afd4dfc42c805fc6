"""biobert_ner never starts or ends an entity on an invisible token
(zero-width space, BOM, control characters, soft hyphen, bidi marks,
whitespace): they are trimmed off the predicted spans, offsets stay exact."""

import numpy
import pytest
import spacy
from spacy.tokens import Doc

from spacy_biobert.ner.tags import is_invisible, trim_invisible

INVISIBLE = ["\u200b", "\ufeff", "\x00", "\x01", "\x1f", "\x7f", "\u00ad", "\u200e", "\u200f",
             "\u202a", "\u202e", "\u2066", "\u2069", "\u200c\u200d", "\n", "\t", " ", "\u00a0"]
VISIBLE = ["a", "-", ".", "é", "\u200ba", "a\u00ad", "1"]


@pytest.mark.parametrize("text", INVISIBLE, ids=[ascii(t) for t in INVISIBLE])
def test_invisible_tokens(text):
    assert is_invisible(text)


@pytest.mark.parametrize("text", VISIBLE, ids=[ascii(t) for t in VISIBLE])
def test_visible_tokens(text):
    assert not is_invisible(text)


def test_trim_invisible_spans():
    texts = ["\u200b", "familial", "\u200b", "polyposis", "\u00ad", "\ufeff", ".", "\u200e"]
    spans = [(0, 6, "Disease"), (7, 8, "Disease"), (6, 7, "X")]
    # edges cut, the inner zero-width space kept, the all-invisible span dropped
    assert trim_invisible(spans, texts) == [(1, 4, "Disease"), (6, 7, "X")]


def _one_hot(tag_ids, n_tags):
    probs = numpy.full((len(tag_ids), n_tags), 0.1, dtype="float32")
    for i, t in enumerate(tag_ids):
        probs[i, t] = 0.8
    return probs / probs.sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:.*\\[W2001\\]:UserWarning")
def test_component_trims_invisible_tokens(ner_dir):
    nlp = spacy.load(ner_dir)
    ner = nlp.get_pipe("ner")
    tags = ner.tags
    b, i, o = tags.index("B-Disease"), tags.index("I-Disease"), tags.index("O")
    words = ["\u200b", "familial", "\u200b", "polyposis", "\u00ad", "\ufeff", "is", "\u202e", "."]
    doc = Doc(nlp.vocab, words=words, spaces=[True] * len(words))
    # the model's tags swallow the invisible tokens on both sides (and one
    # entity is nothing but a bidi mark)
    probs = _one_hot([b, i, i, i, i, i, o, b, o], len(tags))
    ner.set_annotations([doc], [probs])
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(1, 4, "Disease")]
    ent = doc.ents[0]
    assert ent.start_char == doc.text.index("familial")
    assert ent.end_char == doc.text.index("polyposis") + len("polyposis")
    assert ent.text == "familial \u200b polyposis"
    assert ent._.confidence == pytest.approx(float(probs[[1, 2, 3], [i, i, i]].mean()))
