"""The standard spaCy battery for biobert_relation_extractor, on a tiny BERT
built offline (2 layers, 32 wide)."""

import pickle
import warnings

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import fix_random_seed, make_tempdir
from thinc.api import Adam
from tiny_pipelines import REL_DATA, rel_config

from spacy_biobert import relation_spans
from spacy_biobert.relations.candidates import (
    create_sentence_pairs,
    parse_type_pairs,
    sentence_pairs,
)
from spacy_biobert.relations.component import RelationExtractor
from spacy_biobert.relations.scorer import relation_score

LABELS = ("ACTIVATOR", "INHIBITOR")


def span_rec(span):
    return {
        "start": span.start, "end": span.end, "start_char": span.start_char,
        "end_char": span.end_char, "label": span.label_,
    }


def make_doc(vocab, words, ents, rels=None):
    doc = Doc(vocab, words=words)
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
    if rels is not None:
        spans = list(doc.ents)
        doc._.relations = [
            {"head": span_rec(spans[h]), "tail": span_rec(spans[t]), "label": label}
            for h, t, label in rels
        ]
    return doc


def make_examples(nlp):
    return [
        Example(make_doc(nlp.vocab, w, e), make_doc(nlp.vocab, w, e, r))
        for w, e, r in REL_DATA
    ]


def make_rel_nlp(base_model, **extra) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_relation_extractor", name="relation_extractor", config=rel_config(base_model, **extra))
    return nlp


def predicted(doc):
    return sorted(
        (r["head"]["start"], r["tail"]["start"], r["label"]) for r in doc._.relations
    )


def gold(ents, rels):
    return sorted((ents[h][0], ents[t][0], label) for h, t, label in rels)


@pytest.fixture
def nlp(tiny_bert) -> Language:
    return make_rel_nlp(tiny_bert)


@pytest.fixture(scope="module")
def trained_nlp(tmp_path_factory):
    """Tiny pipeline overfitted on REL_DATA (module-scoped: trained once)."""
    from util import make_tiny_bert

    path = make_tiny_bert(
        tmp_path_factory.mktemp("tiny_bert_rel") / "model",
        extra_words=["aspirin", "caffeine", "water", "inhibits", "activates", "but"],
    )
    nlp = make_rel_nlp(path)
    fix_random_seed(0)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.002)
    losses_seen = []
    for _ in range(60):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
        losses_seen.append(losses["relation_extractor"])
    nlp._test_losses = losses_seen  # type: ignore[attr-defined]
    return nlp


def test_relation_extractor_add_pipe_by_factory_name():
    nlp = spacy.blank("en")
    rel = nlp.add_pipe("biobert_relation_extractor")
    assert isinstance(rel, RelationExtractor)
    assert rel.labels == ()
    assert rel.classes == ["false"]
    assert rel.cfg["max_pairs_per_sentence"] == 100


@pytest.mark.parametrize("pair", ["CHEMICAL-GENE", "CHEMICAL->", "A->B->C", "->GENE"])
def test_relation_extractor_bad_type_pair_raises(tiny_bert, pair):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2314\]"):
        make_rel_nlp(tiny_bert, candidates={"@misc": "spacy-biobert.sentence_pairs.v1", "type_pairs": [pair]})


def test_relation_extractor_bad_cap_raises(tiny_bert):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2317\]"):
        make_rel_nlp(tiny_bert, max_pairs_per_sentence=0)


def test_relation_extractor_not_initialized_raises():
    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_relation_extractor", name="relation_extractor")
    # spaCy's own E109 (the package's E109 is another error, about QA)
    with pytest.raises(ValueError, match=r"^\[E109\] Component 'relation_extractor' could not be run"):
        nlp("aspirin inhibits cox1")


def test_relation_extractor_initialize_without_relations_raises(nlp):
    def no_rels():
        return [Example(make_doc(nlp.vocab, w, e), make_doc(nlp.vocab, w, e, [])) for w, e, _ in REL_DATA]

    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2315\]"):
        nlp.initialize(no_rels)


def test_relation_extractor_initialize_labels_from_examples(nlp):
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("relation_extractor")
    assert rel.labels == LABELS
    assert rel.classes == ["false", "ACTIVATOR", "INHIBITOR"]
    assert rel.model.get_dim("nO") == 3


def test_relation_extractor_initialize_explicit_labels(nlp):
    nlp.config["initialize"]["components"]["relation_extractor"] = {"labels": ["CPR:3", "CPR:4"]}
    nlp.initialize(lambda: make_examples(nlp))
    assert nlp.get_pipe("relation_extractor").labels == ("CPR:3", "CPR:4")


def test_relation_extractor_no_relation_label_as_label_raises(nlp):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2316\]"):
        nlp.get_pipe("relation_extractor").add_label("false")


def test_relation_extractor_candidates():
    nlp = spacy.blank("en")
    doc = make_doc(nlp.vocab, "a b c . d e".split(), [(0, 1, "CHEMICAL"), (2, 3, "GENE"), (4, 5, "GENE")])
    pairs = create_sentence_pairs(["CHEMICAL->GENE"])(doc)
    assert [(p.head.start, p.tail.start) for p in pairs] == [(0, 2), (0, 4)]
    # with sentence boundaries, pairs stay inside one sentence
    doc[4].is_sent_start = True
    for i in (1, 2, 3, 5):
        doc[i].is_sent_start = False
    pairs = sentence_pairs(doc, parse_type_pairs(["CHEMICAL->GENE", "*->CHEMICAL"], "test"))
    assert [(p.head.start, p.tail.start, p.context.end) for p in pairs] == [(0, 2, 4), (2, 0, 4)]


def test_relation_extractor_overfitting_IO(trained_nlp):
    nlp = trained_nlp
    losses = nlp._test_losses
    assert losses[-1] < 0.1 * losses[0]
    for words, ents, rels in REL_DATA:
        doc = nlp(make_doc(nlp.vocab, words, ents))
        assert predicted(doc) == gold(ents, rels)
        for rec in doc._.relations:
            assert set(rec["scores"]) == {"false", "ACTIVATOR", "INHIBITOR"}
            assert rec["score"] == max(rec["scores"].values()) > 0.5
            head, tail = relation_spans(doc, rec)
            assert (head.label_, tail.label_) == ("CHEMICAL", "GENE")
            assert head.start_char == rec["head"]["start_char"]
            assert tail.text == doc.text[rec["tail"]["start_char"]:rec["tail"]["end_char"]]
    scores = nlp.evaluate(make_examples(nlp))
    assert scores["rel_micro_f"] == pytest.approx(1.0)
    assert {"rel_micro_p", "rel_micro_r", "rel_micro_f", "rel_per_type"} <= set(scores)


def _docs(nlp):
    return [make_doc(nlp.vocab, w, e) for w, e, _ in REL_DATA]


def test_relation_extractor_serialization_same_scores(trained_nlp):
    nlp = trained_nlp
    expected = [d._.relations for d in nlp.pipe(_docs(nlp))]
    with make_tempdir() as tmp:
        nlp.to_disk(tmp)
        nlp2 = spacy.load(tmp)
    nlp3 = spacy.blank("en")
    cfg = {k: v for k, v in nlp.config["components"]["relation_extractor"].items() if k != "factory"}
    nlp3.add_pipe("biobert_relation_extractor", name="relation_extractor", config=cfg)
    nlp3.get_pipe("relation_extractor").from_bytes(nlp.get_pipe("relation_extractor").to_bytes())
    for other in (nlp2, nlp3):
        got = [d._.relations for d in other.pipe(_docs(other))]
        assert [[(r["head"], r["tail"], r["label"]) for r in d] for d in got] == [
            [(r["head"], r["tail"], r["label"]) for r in d] for d in expected
        ]
        for d_got, d_exp in zip(got, expected):
            for r_got, r_exp in zip(d_got, d_exp):
                assert r_got["scores"] == pytest.approx(r_exp["scores"], abs=1e-6)
    # pipe in small batches gives the same as __call__
    called = [predicted(nlp(d)) for d in _docs(nlp)]
    assert [predicted(d) for d in nlp.pipe(_docs(nlp), batch_size=1)] == called


def test_relation_extractor_relations_survive_serialization(trained_nlp):
    nlp = trained_nlp
    docs = list(nlp.pipe(_docs(nlp)))
    expected = [d._.relations for d in docs]
    assert any(expected)
    db = DocBin(store_user_data=True, docs=docs)
    # DocBin reads user data with msgpack's use_list=False: the list comes back as a tuple
    got = [list(d._.relations) for d in DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab)]
    assert got == expected
    assert [Doc(nlp.vocab).from_bytes(d.to_bytes())._.relations for d in docs] == expected
    assert pickle.loads(pickle.dumps(docs[0]))._.relations == expected[0]
    texts = [" ".join(w) for w, _, _ in REL_DATA]
    # no entities in plain texts: every doc gets an empty list, in both modes
    assert [d._.relations for d in nlp.pipe(texts, n_process=2, batch_size=2)] == [[]] * 4
    two = [d._.relations for d in nlp.pipe(_docs(nlp), n_process=2, batch_size=2)]
    for d_got, d_exp in zip(two, expected):
        assert [(r["head"], r["tail"], r["label"]) for r in d_got] == [(r["head"], r["tail"], r["label"]) for r in d_exp]
        for r_got, r_exp in zip(d_got, d_exp):
            assert r_got["scores"] == pytest.approx(r_exp["scores"], abs=1e-5)


@pytest.mark.parametrize("words,ents", [
    ([], []),
    ("nothing here".split(), []),
    ("aspirin alone".split(), [(0, 1, "CHEMICAL")]),
    ("cox1 and ryr1".split(), [(0, 1, "GENE"), (2, 3, "GENE")]),
])
def test_relation_extractor_no_candidates(trained_nlp, words, ents):
    doc = trained_nlp(make_doc(trained_nlp.vocab, words, ents))
    assert doc._.relations == []


def test_relation_extractor_many_entities_capped(trained_nlp):
    nlp = trained_nlp
    words = []
    ents = []
    for i in range(40):
        ents.append((len(words), len(words) + 1, "CHEMICAL" if i % 2 == 0 else "GENE"))
        words += ["aspirin" if i % 2 == 0 else "cox1", "and"]
    rel = nlp.get_pipe("relation_extractor")
    doc = make_doc(nlp.vocab, words, ents)
    assert len(rel.candidates(doc)) == 400
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2301\].*400 candidate pairs.*max_pairs_per_sentence=100"):
        instances = rel._instances(doc)
    assert len(instances) == 100
    # the kept pairs are the closest ones
    assert max(abs(i.head.start - i.tail.start) for i in instances) <= 22
    # the whole pipeline classifies exactly those 100 pairs
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2301\]"):
        ((scored, probs),) = rel.predict([doc])
    assert [(i.head.start, i.tail.start) for i in scored] == [(i.head.start, i.tail.start) for i in instances]
    assert probs.shape == (100, 3) and numpy.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2301\]"):
        nlp(doc)


def test_relation_extractor_long_sentence_windowed(tiny_bert):
    nlp = make_rel_nlp(tiny_bert, model={"max_length": 32})
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("relation_extractor")
    # 30 filler words, then a close pair: windowed around it, never cut silently
    words = ["the"] * 30 + ["treatment", "is", "gene", "."] + ["the"] * 30
    doc = make_doc(nlp.vocab, words, [(30, 31, "CHEMICAL"), (32, 33, "GENE")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (inst,) = rel._instances(doc)
    assert inst.context.start <= 30 and inst.context.end >= 33
    n_pieces = len(rel.model.get_ref("encoder").layers[0].shims[0]._hfmodel.tokenizer(inst.text)["input_ids"])
    assert 31 <= n_pieces <= 32  # as wide as fits ('the' is one wordpiece)
    assert len(inst.context) > 3  # context was added on both sides
    assert inst.context.start < 30 < 33 < inst.context.end
    # and the pair is classified
    ((scored, probs),) = rel.predict([doc])
    assert [(i.head.start, i.tail.start) for i in scored] == [(30, 32)]
    assert probs.shape == (1, 3) and numpy.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # mentions too far apart for 32 wordpieces: no prediction, with a warning
    doc = make_doc(nlp.vocab, words, [(0, 1, "CHEMICAL"), (32, 33, "GENE")])
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2302\]"):
        assert rel._instances(doc) == []
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2302\]"):
        assert nlp(doc)._.relations == []


def test_relation_extractor_get_loss(trained_nlp):
    nlp = trained_nlp
    rel = nlp.get_pipe("relation_extractor")
    examples = make_examples(nlp)
    scores = rel.predict([eg.predicted for eg in examples])
    loss, d = rel.get_loss(examples, scores)
    assert 0.0 <= loss < 0.5
    assert d.shape == (sum(len(i) for i, _ in scores), 3)
    assert numpy.abs(d.sum(axis=1)).max() < 1e-5


def test_relation_extractor_relation_score():
    nlp = spacy.blank("en")
    w, e, r = REL_DATA[3]
    ref = make_doc(nlp.vocab, w, e, r)
    # one right, one wrong label, one spurious pair
    pred = make_doc(nlp.vocab, w, e, [(0, 1, "INHIBITOR"), (2, 3, "INHIBITOR"), (2, 1, "ACTIVATOR")])
    s = relation_score([Example(pred, ref)], labels=list(LABELS))
    assert (s["rel_per_type"]["INHIBITOR"]["tp"], s["rel_per_type"]["INHIBITOR"]["fp"]) == (1, 1)
    assert s["rel_micro_p"] == pytest.approx(1 / 3)
    assert s["rel_micro_r"] == pytest.approx(1 / 2)
    empty = make_doc(nlp.vocab, w, e)
    assert relation_score([Example(empty, empty)])["rel_micro_f"] == 0.0


def test_relation_extractor_update_in_chunks_same_loss(tiny_bert):
    """Pairs go through the encoder in chunks of pair_batch_size; the loss (and
    the gradient, accumulated over the chunks) does not depend on the size."""
    losses = []
    grads = []
    for size in (1, 64):
        # no dropout inside BERT either: the two runs must see the same network
        no_dropout = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
        nlp = make_rel_nlp(tiny_bert, pair_batch_size=size, model={"transformer_config": no_dropout})
        fix_random_seed(0)
        nlp.initialize(lambda nlp=nlp: make_examples(nlp))
        rel = nlp.get_pipe("relation_extractor")
        out = rel.update(make_examples(nlp), drop=0.0)
        losses.append(out["relation_extractor"])
        out_layer = rel.model.get_ref("output_layer")
        bert = rel.model.get_ref("encoder").layers[0].shims[0]._model
        bert_grad = bert.encoder.layer[0].attention.self.query.weight.grad
        # the encoder is fine-tuned too, not only the output layer
        assert bert_grad is not None and float(bert_grad.abs().sum()) > 0
        grads.append((out_layer.get_grad("W").copy(), bert_grad.detach().numpy().copy()))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for a, b in zip(*grads):
        numpy.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)


def test_relation_extractor_sentences_as_contexts(trained_nlp):
    """With sentence boundaries, each pair is classified in its own sentence."""
    nlp = trained_nlp
    words = "aspirin inhibits cox1 . caffeine activates ryr1 .".split()
    doc = make_doc(nlp.vocab, words, [(0, 1, "CHEMICAL"), (2, 3, "GENE"), (4, 5, "CHEMICAL"), (6, 7, "GENE")])
    for i, token in enumerate(doc):
        token.is_sent_start = i in (0, 4)
    rel = nlp.get_pipe("relation_extractor")
    instances = rel._instances(doc)
    assert [(i.head.start, i.tail.start, i.text) for i in instances] == [
        (0, 2, "@CHEMICAL$ inhibits @GENE$ ."), (4, 6, "@CHEMICAL$ activates @GENE$ ."),
    ]
    # the trained model finds both relations, each in its own sentence
    assert predicted(nlp(doc)) == [(0, 2, "INHIBITOR"), (4, 6, "ACTIVATOR")]
