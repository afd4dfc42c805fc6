"""The standard spaCy battery for biobert_ner, on a tiny BERT built offline."""

from contextlib import nullcontext

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import fix_random_seed, make_tempdir
from thinc.api import Adam
from util import TRAIN_DATA, make_examples, make_ner_nlp

from spacy_biobert.ner.component import (
    BioBertNER,
    greedy_decode,
    transition_masks,
    viterbi_decode,
)


@pytest.fixture
def nlp(tiny_bert) -> Language:
    return make_ner_nlp(tiny_bert)


@pytest.fixture(scope="module")
def trained_nlp(tmp_path_factory):
    """Tiny pipeline overfitted on TRAIN_DATA (module-scoped: trained once)."""
    from util import make_tiny_bert

    path = make_tiny_bert(tmp_path_factory.mktemp("tiny_bert_ner") / "model")
    nlp = make_ner_nlp(path)
    fix_random_seed(0)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.003)
    losses_seen = []
    for _ in range(100):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
        losses_seen.append(losses["ner"])
    nlp._test_losses = losses_seen  # type: ignore[attr-defined]
    return nlp


def test_ner_add_pipe_by_factory_name():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("biobert_ner")
    assert isinstance(ner, BioBertNER)
    assert ner.cfg["decoding"] == "viterbi"
    assert ner.labels == ()


def test_ner_bad_decoding_raises(tiny_bert):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2205\]"):
        make_ner_nlp(tiny_bert, **{"components.ner.decoding": "beam"})


def test_ner_not_initialized_raises():
    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_ner", name="ner")
    # spaCy's own E109 (the package's E109 is another error, about QA)
    with pytest.raises(ValueError, match=r"^\[E109\] Component 'ner' could not be run"):
        nlp("patients with colorectal cancer")


def test_ner_initialize_labels_from_examples(nlp):
    nlp.initialize(lambda: make_examples(nlp))
    ner = nlp.get_pipe("ner")
    assert ner.labels == ("Disease",)
    assert ner.tags == ["O", "B-Disease", "I-Disease"]


def test_ner_initialize_explicit_labels(nlp):
    nlp.config["initialize"]["components"]["ner"] = {"labels": ["Chemical", "Disease"]}
    nlp.initialize(lambda: make_examples(nlp))
    assert nlp.get_pipe("ner").labels == ("Chemical", "Disease")


def test_ner_initialize_without_entities_raises(nlp):
    def no_ents():
        return [Example(Doc(nlp.vocab, words=["a", "b"]), Doc(nlp.vocab, words=["a", "b"]))]

    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2204\]"):
        nlp.initialize(no_ents)


def test_ner_overfitting_IO(trained_nlp):
    nlp = trained_nlp
    losses = nlp._test_losses
    assert losses[-1] < 0.05 < losses[0]
    for text, ents in TRAIN_DATA:
        doc = nlp(text)
        assert [(e.start, e.end, e.label_) for e in doc.ents] == ents
        for ent in doc.ents:
            assert 0.5 < ent._.confidence <= 1.0
    scores = nlp.evaluate(make_examples(nlp))
    assert scores["ents_f"] == pytest.approx(1.0)
    assert {"ents_p", "ents_r", "ents_f", "ents_per_type"} <= set(scores)

    texts = [text for text, _ in TRAIN_DATA]
    with make_tempdir() as tmp:
        nlp.to_disk(tmp)
        nlp2 = spacy.load(tmp)
    for text in texts:
        a, b = nlp(text), nlp2(text)
        assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
        assert [e._.confidence for e in a.ents] == pytest.approx([e._.confidence for e in b.ents], abs=1e-5)

    # pipe gives the same as __call__, in any batch size
    called = [[(e.start, e.end, e.label_) for e in nlp(t).ents] for t in texts]
    piped = [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts, batch_size=3)]
    assert piped == called


def test_ner_pipe_n_process_2_equals_1(trained_nlp):
    texts = [text for text, _ in TRAIN_DATA] * 3
    one = [[(e.start, e.end, e.label_, round(e._.confidence, 4)) for e in d.ents] for d in trained_nlp.pipe(texts)]
    two = [
        [(e.start, e.end, e.label_, round(e._.confidence, 4)) for e in d.ents]
        for d in trained_nlp.pipe(texts, n_process=2, batch_size=2)
    ]
    assert one == two


@pytest.mark.parametrize("text", ["", " ", "\n\n", "   \t  "])
def test_ner_empty_and_whitespace_docs(trained_nlp, text):
    doc = trained_nlp(text)
    assert doc.text == text
    assert len(doc.ents) == 0


def test_ner_batch_mixing_empty_and_nonempty(trained_nlp):
    texts = ["", "women with breast cancer were observed .", " ", ""]
    docs = list(trained_nlp.pipe(texts))
    assert [d.text for d in docs] == texts
    assert [e.text for e in docs[1].ents] == ["breast cancer"]


@pytest.mark.parametrize(
    "text",
    [
        "patients with \u200b colorectal cancer",  # zero-width space: no wordpieces
        "caf\u00e9 patients with breast cancer \U0001F9EC",  # accents, emoji
        "\u7c21\u4f53 \u0645\u0631\u0636 cancer \ufeff",  # CJK, Arabic, BOM
        "x" * 2000,  # one token much longer than a window
    ],
)
def test_ner_odd_unicode_every_token_predicted(trained_nlp, text):
    ner = trained_nlp.get_pipe("ner")
    doc = trained_nlp.make_doc(text)
    long_token = any(len(t) > 500 for t in doc)
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2002\]") if long_token else nullcontext():
        for _, proc in trained_nlp.pipeline[:-1]:
            doc = proc(doc)
    scores = ner.predict([doc])
    assert scores[0].shape == (len(doc), len(ner.tags))
    assert numpy.isfinite(scores[0]).all()
    ner.set_annotations([doc], scores)


def test_ner_long_document_one_prediction_per_token(trained_nlp):
    words = (TRAIN_DATA[0][0] + " " + TRAIN_DATA[3][0] + " .").split()
    words = (words * (1000 // len(words) + 1))[:1000]
    doc = Doc(trained_nlp.vocab, words=words)
    trf = trained_nlp.get_pipe("transformer")
    ner = trained_nlp.get_pipe("ner")
    doc = trf(doc)
    # overlapping windows, none over the model's length, covering every token
    spans = trf.model.attrs["get_spans"]([doc])[0]
    assert len(spans) > 1
    assert spans[0].start == 0 and spans[-1].end == len(doc)
    assert all(b.start < a.end for a, b in zip(spans, spans[1:]))
    assert doc._.trf_data.align.lengths.min() >= 1  # every token has wordpieces
    scores = ner.predict([doc])
    assert scores[0].shape == (1000, len(ner.tags))
    ner.set_annotations([doc], scores)
    # the same sentence gets the same entities at the start, in the middle and
    # at the end (the last copy is cut after "colorectal cancer and"): every
    # token of a gold mention is in a Disease entity, and no other token
    n_first = len(TRAIN_DATA[0][0].split())
    period = n_first + len(TRAIN_DATA[3][0].split()) + 1
    gold = TRAIN_DATA[0][1] + [(s + n_first, e + n_first, label) for s, e, label in TRAIN_DATA[3][1]]
    expected = [(o + s, o + e, label) for o in range(0, 1000, period) for s, e, label in gold if o + e <= 1000]
    assert len(expected) == 235
    assert [(e.start, e.end, e.label_) for e in doc.ents[:4]] == expected[:4]
    assert {e.label_ for e in doc.ents} == {"Disease"}
    assert {i for e in doc.ents for i in range(e.start, e.end)} == {i for s, e, _ in expected for i in range(s, e)}
    # (boundaries are not pinned: far into a window the tiny model's position
    # embeddings are untrained, and a two-word mention there may come out as
    # two one-word entities)


def test_ner_confidence_survives_docbin_and_bytes(trained_nlp):
    doc = trained_nlp(TRAIN_DATA[1][0])
    assert [e.text for e in doc.ents] == ["breast cancer"] and 0.5 < doc.ents[0]._.confidence <= 1.0
    conf = doc.ents[0]._.confidence
    db = DocBin(store_user_data=True)
    db.add(doc)
    doc2 = list(DocBin().from_bytes(db.to_bytes()).get_docs(trained_nlp.vocab))[0]
    assert doc2.ents[0]._.confidence == pytest.approx(conf)
    doc3 = Doc(trained_nlp.vocab).from_bytes(doc.to_bytes())
    assert doc3.ents[0]._.confidence == pytest.approx(conf)


def test_ner_replaces_previous_entities(trained_nlp):
    doc = trained_nlp.make_doc("the apc gene is not associated with this risk .")
    doc.ents = [doc.char_span(4, 7, label="GENE")]
    for _, proc in trained_nlp.pipeline:
        doc = proc(doc)
    assert [e.label_ for e in doc.ents] == []


# fmt: off
@pytest.mark.parametrize("rows,expected_greedy,expected_viterbi", [
    # argmax O I I -> orphan I; Viterbi picks the best valid path O B I
    ([[0.5, 0.1, 0.4], [0.1, 0.2, 0.7], [0.1, 0.1, 0.8]], [0, 2, 2], [0, 1, 2]),
    # a valid argmax is kept as it is
    ([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]], [1, 2, 0], [1, 2, 0]),
    # I at the start is never allowed
    ([[0.2, 0.3, 0.5]], [2], [1]),
])
# fmt: on
def test_ner_decoders(rows, expected_greedy, expected_viterbi):
    tags = ["O", "B-Disease", "I-Disease"]
    allowed, start = transition_masks(tags)
    probs = numpy.asarray(rows, dtype="f")
    assert list(greedy_decode(probs, allowed, start)) == expected_greedy
    assert list(viterbi_decode(probs, allowed, start)) == expected_viterbi


def test_ner_viterbi_never_crosses_types():
    tags = ["O", "B-A", "I-A", "B-B", "I-B"]
    allowed, start = transition_masks(tags)
    rng = numpy.random.default_rng(0)
    for _ in range(50):
        probs = rng.dirichlet(numpy.ones(len(tags)), size=12).astype("f")
        path = [tags[i] for i in viterbi_decode(probs, allowed, start)]
        for prev, cur in zip(["O"] + path, path):
            if cur.startswith("I-"):
                assert prev in ("B-" + cur[2:], "I-" + cur[2:])


def test_ner_evaluate_cli_scores_in_file_order(trained_nlp, tmp_path):
    """evaluate_ner sorts by length for speed; the scores must not change."""
    from spacy_biobert.apps.evaluate import evaluate_ner, markdown_table
    from spacy_biobert.ner.tags import spans_to_iob

    lines = []
    for text, ents in TRAIN_DATA + TRAIN_DATA[::-1]:
        words = text.split()
        for word, tag in zip(words, spans_to_iob(len(words), ents)):
            lines.append(f"{word}\t{tag}")
        lines.append("")
    path = tmp_path / "test.tsv"
    path.write_text("\n".join(lines), encoding="utf8")
    results = evaluate_ner(trained_nlp, path, batch_size=3, show_progress=False)
    assert results["f1"] == pytest.approx(1.0)
    assert results["n_sentences"] == 8 and results["n_gold_entities"] == 10
    table = markdown_table(dict(results, dataset="toy", split="test", model="m", metric="seqeval"))
    assert "| toy | 100.00 | 100.00 | 100.00 |" in table


@pytest.mark.parametrize("init_std", [0.02, 0.0])
def test_ner_output_layer_init(tiny_bert, init_std):
    """TokenClassifier.v2 draws the output weights as BERT does (std 0.02),
    seeded by spaCy's seed; init_std = 0 (or v1) keeps thinc's zeros."""
    weights = []
    for _ in range(2):
        fix_random_seed(0)
        nlp = make_ner_nlp(tiny_bert, **{"components.ner.model.init_std": init_std})
        nlp.initialize(lambda nlp=nlp: make_examples(nlp))
        weights.append(nlp.get_pipe("ner").model.get_ref("output_layer").get_param("W"))
    if init_std:
        assert 0.01 < float(weights[0].std()) < 0.03
    else:
        assert not weights[0].any()
    numpy.testing.assert_array_equal(weights[0], weights[1])
