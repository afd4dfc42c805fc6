"""Stacking biobert_ner: spans_key and existing_ents (issue 15, item 5)."""

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from util import TRAIN_DATA, make_examples, overfit

# the Gene component's training data: the sentences of util.TRAIN_DATA, other entities
# fmt: off
GENE_DATA = [
    ("familial adenomatous polyposis is a hereditary cancer syndrome .", [(1, 3, "Gene")]),
    ("women with breast cancer were observed .", []),
    ("the apc gene is not associated with this risk .", [(1, 2, "Gene")]),
    ("patients with colorectal cancer and ovarian cancer", []),
]
# fmt: on
# a small model of its own (hash embeddings, no transformer): it trains in seconds
SMALL_MODEL = {
    "@architectures": "spacy-biobert.TokenClassifier.v2",
    "dropout": 0.0,
    "tok2vec": {
        "@architectures": "spacy.Tok2Vec.v2",
        "embed": {"@architectures": "spacy.MultiHashEmbed.v2", "width": 32, "attrs": ["ORTH"],
                  "rows": [500], "include_static_vectors": False},
        "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 32, "depth": 1,
                   "window_size": 1, "maxout_pieces": 2},
    },
}


def ents_of(doc, group=None):
    spans = doc.ents if group is None else doc.spans[group]
    return [(s.text, s.label_) for s in spans]


def gene_examples(vocab, data=GENE_DATA):
    examples = []
    for text, ents in data:
        words = text.split()
        ref = Doc(vocab, words=words)
        ref.ents = [Span(ref, s, e, label=label) for s, e, label in ents]
        examples.append(Example(Doc(vocab, words=words), ref))
    return examples


@pytest.fixture(scope="module")
def gene_nlp():
    """A blank pipeline with one biobert_ner for Gene, overfitted on GENE_DATA."""
    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_ner", name="ner_gene", config={"model": SMALL_MODEL})
    return overfit(nlp, gene_examples(nlp.vocab), steps=60, learn_rate=0.01)


@pytest.fixture
def disease_nlp(trained_ner_dir):
    """The tiny transformer + biobert_ner ('ner', Disease) overfitted on util.TRAIN_DATA."""
    return spacy.load(trained_ner_dir)


def stacked(disease_nlp, gene_nlp, existing_ents, spans_key=None):
    """The Disease pipeline + a copy of the trained Gene component with these settings."""
    config = {"model": SMALL_MODEL, "existing_ents": existing_ents, "spans_key": spans_key}
    ner = disease_nlp.add_pipe("biobert_ner", name="ner_gene", config=config)
    ner.from_bytes(gene_nlp.get_pipe("ner_gene").to_bytes())
    return disease_nlp


def test_each_component_alone(disease_nlp, gene_nlp):
    for (text, dis), (_, gene) in zip(TRAIN_DATA, GENE_DATA):
        assert [(e.start, e.end, e.label_) for e in disease_nlp(text).ents] == dis
        assert [(e.start, e.end, e.label_) for e in gene_nlp(text).ents] == gene


def test_two_biobert_ner_keep(disease_nlp, gene_nlp):
    nlp = stacked(disease_nlp, gene_nlp, "keep")
    docs = [nlp(text) for text, _ in TRAIN_DATA]
    # the Gene mention inside 'familial adenomatous polyposis' overlaps a Disease: dropped
    assert ents_of(docs[0]) == [("familial adenomatous polyposis", "Disease"), ("cancer syndrome", "Disease")]
    assert ents_of(docs[1]) == [("breast cancer", "Disease")]
    assert ents_of(docs[2]) == [("apc", "Gene")]
    assert all(0.5 < e._.confidence <= 1.0 for d in docs for e in d.ents)


def test_two_biobert_ner_overwrite(disease_nlp, gene_nlp):
    nlp = stacked(disease_nlp, gene_nlp, "overwrite")
    doc = nlp(TRAIN_DATA[0][0])
    assert ents_of(doc) == [("adenomatous polyposis", "Gene"), ("cancer syndrome", "Disease")]
    assert ents_of(nlp(TRAIN_DATA[3][0])) == [("colorectal cancer", "Disease"), ("ovarian cancer", "Disease")]


def test_two_biobert_ner_replace_is_the_default(disease_nlp, gene_nlp):
    assert gene_nlp.get_pipe("ner_gene").cfg["existing_ents"] == "replace"
    nlp = stacked(disease_nlp, gene_nlp, "replace")
    assert ents_of(nlp(TRAIN_DATA[0][0])) == [("adenomatous polyposis", "Gene")]
    assert ents_of(nlp(TRAIN_DATA[1][0])) == []


def test_two_biobert_ner_spans_keys(disease_nlp, gene_nlp):
    nlp = stacked(disease_nlp, gene_nlp, "replace", spans_key="genes")
    doc = nlp(TRAIN_DATA[0][0])
    # overlapping entities of both types: Disease in doc.ents, Gene in its group
    assert ents_of(doc) == [("familial adenomatous polyposis", "Disease"), ("cancer syndrome", "Disease")]
    assert ents_of(doc, "genes") == [("adenomatous polyposis", "Gene")]
    assert 0.5 < doc.spans["genes"][0]._.confidence <= 1.0


def test_ruler_first_then_ner_keep(trained_ner_dir):
    nlp = spacy.load(trained_ner_dir, config={"components": {"ner": {"existing_ents": "keep"}}})
    ruler = nlp.add_pipe("entity_ruler", before="ner")
    ruler.add_patterns([{"label": "GENE", "pattern": "apc"}, {"label": "TISSUE", "pattern": "breast"}])
    doc = nlp(TRAIN_DATA[1][0])
    assert ents_of(doc) == [("breast", "TISSUE")]  # the NER's 'breast cancer' overlaps it
    assert doc.ents[0]._.confidence is None
    doc = nlp(TRAIN_DATA[2][0])
    assert ents_of(doc) == [("apc", "GENE")] and doc.ents[0]._.confidence is None
    doc = nlp(TRAIN_DATA[3][0])
    assert ents_of(doc) == [("colorectal cancer", "Disease"), ("ovarian cancer", "Disease")]


def test_ruler_first_then_ner_overwrite(trained_ner_dir):
    nlp = spacy.load(trained_ner_dir, config={"components": {"ner": {"existing_ents": "overwrite"}}})
    ruler = nlp.add_pipe("entity_ruler", before="ner")
    ruler.add_patterns([{"label": "GENE", "pattern": "apc"}, {"label": "TISSUE", "pattern": "breast"}])
    assert ents_of(nlp(TRAIN_DATA[1][0])) == [("breast cancer", "Disease")]
    assert ents_of(nlp(TRAIN_DATA[2][0])) == [("apc", "GENE")]


def test_ruler_first_then_ner_replace_default(trained_ner_dir):
    nlp = spacy.load(trained_ner_dir)
    ruler = nlp.add_pipe("entity_ruler", before="ner")
    ruler.add_patterns([{"label": "GENE", "pattern": "apc"}])
    assert ents_of(nlp(TRAIN_DATA[2][0])) == []


def test_ner_first_then_ruler(trained_ner_dir):
    nlp = spacy.load(trained_ner_dir)
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": False})
    ruler.add_patterns([{"label": "GENE", "pattern": "apc"}, {"label": "TISSUE", "pattern": "breast"}])
    doc = nlp(TRAIN_DATA[1][0])
    assert ents_of(doc) == [("breast cancer", "Disease")] and 0.5 < doc.ents[0]._.confidence <= 1.0
    assert ents_of(nlp(TRAIN_DATA[2][0])) == [("apc", "GENE")]


def test_spans_key_leaves_ents_untouched(trained_ner_dir):
    nlp = spacy.load(trained_ner_dir, config={"components": {"ner": {"spans_key": "dis"}}})
    doc = nlp.make_doc(TRAIN_DATA[1][0])
    doc.ents = [Span(doc, 0, 1, label="PERSON")]
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    assert ents_of(doc) == [("women", "PERSON")]
    assert ents_of(doc, "dis") == [("breast cancer", "Disease")]
    assert 0.5 < doc.spans["dis"][0]._.confidence <= 1.0
    assert doc.ents[0]._.confidence is None
    # nothing predicted: an empty group, still no ents
    doc = nlp(TRAIN_DATA[2][0])
    assert ents_of(doc, "dis") == [] and ents_of(doc) == []


def test_spans_key_scoring(trained_ner_dir):
    nlp = spacy.load(trained_ner_dir, config={"components": {"ner": {"spans_key": "dis"}}})
    examples = make_examples(nlp)
    scores = nlp.evaluate(examples)  # gold from the references' ents (no 'dis' group)
    assert scores["spans_dis_f"] == pytest.approx(1.0)
    assert "ents_f" not in scores or scores["ents_f"] is None
    # gold from the references' group when they have it
    for eg in examples:
        eg.reference.spans["dis"] = [Span(eg.reference, 0, 1, label="Disease")]
    assert nlp.evaluate(examples)["spans_dis_f"] < 0.5


def test_spans_key_gold_from_reference_group():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("biobert_ner", config={"model": SMALL_MODEL, "spans_key": "sc"})
    words = "the apc gene is not associated".split()
    ref = Doc(nlp.vocab, words=words)
    ref.ents = [Span(ref, 4, 5, label="Gene")]
    ref.spans["sc"] = [Span(ref, 1, 3, label="Gene"), Span(ref, 1, 2, label="Gene")]
    eg = Example(Doc(nlp.vocab, words=words), ref)
    nlp.initialize(lambda: [eg])
    assert ner.labels == ("Gene",)
    index = {tag: i for i, tag in enumerate(ner.tags)}
    # the group, its overlap reduced to the longest span; not the ents
    assert ner._gold_tag_ids(eg, index).tolist() == [0, 1, 2, 0, 0, 0]
    del ref.spans["sc"]
    assert ner._gold_tag_ids(eg, index).tolist() == [0, 0, 0, 0, 1, 0]


def probs_for(n_tokens, tag_ids, n_tags=3):
    probs = numpy.full((n_tokens, n_tags), 0.05, dtype="float32")
    probs[numpy.arange(n_tokens), tag_ids] = 0.9
    return probs


@pytest.mark.parametrize("mode,expected", [
    ("replace", [(2, 4, "Gene")]),
    ("keep", [(0, 1, "X"), (2, 3, "Y")]),
    ("overwrite", [(0, 1, "X"), (2, 4, "Gene")]),
])
def test_existing_ents_rule(mode, expected):
    """set_annotations on fixed tag probabilities: the rule, for ents and for a span group."""
    nlp = spacy.blank("en")
    for key in (None, "grp"):
        ner = nlp.add_pipe("biobert_ner", name=f"ner_{key}", config={"existing_ents": mode, "spans_key": key})
        ner.add_label("Gene")
        doc = Doc(nlp.vocab, words="a b c d e".split())
        before = [Span(doc, 0, 1, label="X"), Span(doc, 2, 3, label="Y")]
        if key is None:
            doc.ents = before
        else:
            doc.spans[key] = before
        ner.set_annotations([doc], [probs_for(5, [0, 0, 1, 2, 0])])  # predicts 'c d' as Gene
        target = doc.ents if key is None else doc.spans[key]
        assert [(s.start, s.end, s.label_) for s in target] == expected
        for span in target:
            assert (span._.confidence is not None) == (span.label_ == "Gene")
        if key is not None:  # doc.ents untouched
            assert list(doc.ents) == []


def test_settings_round_trip(tmp_path, gene_nlp):
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_gene", source=gene_nlp)
    nlp.add_pipe("biobert_ner", name="ner2", config={"model": SMALL_MODEL, "spans_key": "genes",
                                                      "existing_ents": "keep"})
    nlp.get_pipe("ner2").from_bytes(gene_nlp.get_pipe("ner_gene").to_bytes())
    nlp.to_disk(tmp_path / "nlp")
    nlp2 = spacy.load(tmp_path / "nlp")
    assert nlp2.get_pipe("ner2").cfg["spans_key"] == "genes"
    assert nlp2.get_pipe("ner2").cfg["existing_ents"] == "keep"
    assert nlp2.config["components"]["ner2"]["spans_key"] == "genes"
    assert nlp2.get_pipe("ner_gene").cfg["spans_key"] is None
    doc = nlp2(GENE_DATA[2][0])
    assert ents_of(doc) == [("apc", "Gene")] and ents_of(doc, "genes") == [("apc", "Gene")]
    # the config, not a component's saved cfg, decides the wiring
    nlp3 = spacy.load(tmp_path / "nlp", config={"components": {"ner2": {"spans_key": "other"}}})
    assert nlp3.get_pipe("ner2").cfg["spans_key"] == "other"
    assert "other" in nlp3(GENE_DATA[2][0]).spans


@pytest.mark.parametrize("setting,value,code", [
    ("existing_ents", "merge", "E2230"), ("spans_key", "", "E2231"),
])
def test_bad_settings_raise(setting, value, code):
    with pytest.raises(ValueError, match=rf"\(spacy-biobert\) \[{code}\]"):
        spacy.blank("en").add_pipe("biobert_ner", config={setting: value})
