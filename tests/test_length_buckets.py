"""Length-bucketed prediction (spacy-biobert.TransformerModel.v1): same outputs
as spacy-transformers' one padded pass, on a tiny BERT built offline."""

import numpy
import pytest
import spacy
from spacy.util import make_tempdir
from thinc.layers.pytorchwrapper import forward as pt_forward
from util import make_examples, make_ner_nlp

from spacy_biobert.layers.length_buckets import (
    bucketed_hf_forward,
    length_buckets,
    use_length_buckets,
)

WORDS = ("familial adenomatous polyposis is a hereditary cancer syndrome . women with breast "
         "cancer were observed . the apc gene is not associated with this risk .").split()


def _texts():
    """Texts of very different lengths (1 to 300 words: the longest needs several windows)."""
    texts = []
    for n in (1, 3, 40, 7, 2, 25, 300, 12, 5, 60, 9, 130):
        texts.append(" ".join(WORDS[i % len(WORDS)] for i in range(n)))
    return texts


@pytest.fixture(scope="module")
def nlp(tmp_path_factory):
    """Overfitted on util.TRAIN_DATA (as in test_ner), so that there are entities to compare."""
    from util import make_tiny_bert, overfit

    path = make_tiny_bert(tmp_path_factory.mktemp("tiny_bert_buckets") / "model")
    nlp = make_ner_nlp(path)
    return overfit(nlp, make_examples(nlp))


def _predict(nlp, texts, bucketed):
    use_length_buckets(nlp, enabled=bucketed)
    try:
        docs = list(nlp.pipe(texts, batch_size=len(texts)))
        trf = nlp.get_pipe("transformer")
        batch = trf.predict([nlp.make_doc(t) for t in texts])
        probs = nlp.get_pipe("ner").predict(docs)
    finally:
        use_length_buckets(nlp, enabled=True)
    return docs, batch, probs


def _ents(docs):
    """(start, end, label) of every entity, per doc."""
    return [[(e.start, e.end, e.label_) for e in d.ents] for d in docs]


def test_length_buckets_cover_every_index_once():
    lengths = [5, 90, 7, 7, 30, 128, 1, 64, 6, 31]
    groups = length_buckets(lengths, batch_overhead=8, max_batch_items=256)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(g == sorted(g) for g in groups)
    for g in groups:
        assert len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 256


def test_length_buckets_extremes():
    lengths = [3, 50, 3, 50, 20]
    assert length_buckets([]) == []
    # a pass is free: no padding at all (one group per distinct length)
    groups = length_buckets(lengths, batch_overhead=0)
    assert sum(len(g) * max(lengths[i] for i in g) for g in groups) == sum(lengths)
    # a pass is dear: everything in one
    assert length_buckets(lengths, batch_overhead=10_000) == [[0, 1, 2, 3, 4]]
    # a sequence longer than max_batch_items still gets a group of its own
    assert length_buckets([600, 2], max_batch_items=100) == [[1], [0]]


def test_length_buckets_beat_one_pass_on_mixed_lengths():
    lengths = [10] * 30 + [100] * 2
    groups = length_buckets(lengths, batch_overhead=32)
    padded = sum(len(g) * max(lengths[i] for i in g) for g in groups)
    assert len(groups) == 2 and padded == sum(lengths)


def test_config_architecture_is_bucketed(nlp):
    trf = nlp.get_pipe("transformer")
    assert nlp.config["components"]["transformer"]["model"]["@architectures"] == "spacy-biobert.TransformerModel.v1"
    assert trf.model.layers[0]._func is bucketed_hf_forward
    assert trf.model.layers[0].attrs["batch_overhead"] == 32


def test_bucketed_same_outputs_and_entities(nlp):
    texts = _texts()
    docs_a, batch_a, probs_a = _predict(nlp, texts, bucketed=False)
    docs_b, batch_b, probs_b = _predict(nlp, texts, bucketed=True)
    # same windows, wordpieces and alignment; same padded output shapes
    assert batch_a.wordpieces.input_ids.shape == batch_b.wordpieces.input_ids.shape
    out_a, out_b = batch_a.model_output, batch_b.model_output
    assert set(out_a.keys()) == set(out_b.keys())
    mask = batch_a.wordpieces.attention_mask.astype(bool)
    assert len(mask) > 12  # the long texts have several windows
    hidden_a = out_a.last_hidden_state.numpy()
    hidden_b = out_b.last_hidden_state.numpy()
    assert hidden_a.shape == hidden_b.shape
    numpy.testing.assert_allclose(hidden_a[mask], hidden_b[mask], atol=1e-5)
    assert (hidden_b[~mask] == 0).all(axis=-1).any()  # padding past a group: zeros
    numpy.testing.assert_allclose(out_a.pooler_output.numpy(), out_b.pooler_output.numpy(), atol=1e-5)
    for pa, pb in zip(probs_a, probs_b):
        numpy.testing.assert_allclose(pa, pb, atol=1e-5)
    # there are entities to compare: the 40-word text starts with the first training sentence
    assert _ents(docs_a)[2][:2] == [(0, 3, "Disease"), (6, 8, "Disease")]
    for da, db in zip(docs_a, docs_b):
        assert len(da) == len(db)
        assert _ents([da]) == _ents([db])
        assert [e._.confidence for e in da.ents] == pytest.approx([e._.confidence for e in db.ents], abs=1e-5)
        # every token has a vector (every text has at least one word)
        assert len(da) >= 1 and da._.trf_data.align.lengths.min() >= 1


def test_bucketed_forward_runs_several_passes(nlp):
    """The texts really go through the encoder in several passes of different
    widths, in eval mode, and the model's training flag is restored."""
    hf_model = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    seen = []

    def spy(module, args, kwargs):
        seen.append((tuple(kwargs["input_ids"].shape), module.training))

    hook = hf_model.register_forward_pre_hook(spy, with_kwargs=True)
    was_training = hf_model.training
    try:
        list(nlp.pipe(_texts(), batch_size=64))
    finally:
        hook.remove()
    assert len(seen) > 1
    assert len({shape[1] for shape, _ in seen}) > 1
    assert not any(training for _, training in seen)
    assert hf_model.training == was_training


def test_training_path_is_unbucketed(nlp):
    """begin_update goes through spacy-transformers' own forward (one pass, backprop)."""
    trf = nlp.get_pipe("transformer")
    docs = [nlp.make_doc(t) for t in _texts()[:4]]
    out, backprop = trf.model.begin_update(docs)
    assert out.model_output.last_hidden_state.requires_grad
    assert callable(backprop)


def test_v3_pipeline_loads_and_switches(tiny_bert):
    """A pipeline saved with spacy-transformers.TransformerModel.v3 loads as it
    was (one pass), and use_length_buckets switches it without changing entities."""
    from thinc.api import Config
    from util import NER_CONFIG

    config = Config().from_disk(NER_CONFIG, overrides={"paths.base_model": str(tiny_bert)})
    model_cfg = config["components"]["transformer"]["model"]
    model_cfg["@architectures"] = "spacy-transformers.TransformerModel.v3"
    del model_cfg["batch_overhead"], model_cfg["max_batch_items"]
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    with make_tempdir() as d:
        nlp.to_disk(d)
        loaded = spacy.load(d)
    wrapper = loaded.get_pipe("transformer").model.layers[0]
    assert wrapper._func is pt_forward
    texts = _texts()
    ner = loaded.get_pipe("ner")
    docs = list(loaded.pipe(texts))
    before_ents, before_probs = _ents(docs), ner.predict(docs)
    assert use_length_buckets(loaded) == ["transformer"]
    assert wrapper._func is bucketed_hf_forward
    docs = list(loaded.pipe(texts))
    assert _ents(docs) == before_ents
    # (untrained: the entities may be none; the tag probabilities are compared too)
    after_probs = ner.predict(docs)
    assert [p.shape for p in after_probs] == [(len(d), 3) for d in docs]
    for a, b in zip(before_probs, after_probs):
        numpy.testing.assert_allclose(a, b, atol=1e-5)


def test_bucketed_pipeline_roundtrip(nlp):
    with make_tempdir() as d:
        nlp.to_disk(d)
        loaded = spacy.load(d)
    wrapper = loaded.get_pipe("transformer").model.layers[0]
    assert wrapper._func is bucketed_hf_forward
    texts = _texts()
    expected = _ents(nlp.pipe(texts))
    assert expected[2][:2] == [(0, 3, "Disease"), (6, 8, "Disease")]  # entities to compare
    assert _ents(loaded.pipe(texts)) == expected


def test_bad_bucket_settings_raise(tiny_bert):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2103\]"):
        make_ner_nlp(tiny_bert, **{"components.transformer.model.batch_overhead": -1})
