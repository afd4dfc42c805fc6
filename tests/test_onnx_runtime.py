"""Prediction on ONNX Runtime (spacy_biobert.layers.onnx_runtime), on the tiny
trained pipeline: fp32 gives eager's entities and confidences, int8 is really
quantised and agrees, the export is cached by the weights, training runs
PyTorch. onnxruntime and onnx are test requirements (the `test` extra): without
them these tests fail, they do not skip."""

import pickle

import numpy
import onnx  # noqa: F401 (a missing test requirement fails here, in CI too)
import onnxruntime  # noqa: F401
import pytest
import spacy
import torch
from util import TRAIN_DATA, make_examples

from spacy_biobert.layers import get_runtime, use_runtime
from spacy_biobert.layers.hf import runtime_state, torch_module

TEXTS = [t for t, _ in TRAIN_DATA] + [
    "women with colon cancer and ovarian cancer were observed in this study .",
    "hereditary breast cancer",
    "the apc gene mutation is associated with familial adenomatous polyposis coli , "
    "a cancer syndrome of the colon , in these patients and their carriers .",
    ".",
]


def _runtime_config(runtime):
    return {"components": {"transformer": {"model": {"runtime": runtime}}}}


def _predict(nlp):
    docs = list(nlp.pipe(TEXTS, batch_size=4))
    ents = [[(e.start, e.end, e.label_) for e in d.ents] for d in docs]
    confidences = [[e._.confidence for e in d.ents] for d in docs]
    hidden = [d._.trf_data.model_output.last_hidden_state for d in docs]
    return ents, confidences, hidden


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "onnx_cache"
    monkeypatch.setenv("SPACY_BIOBERT_ONNX_CACHE", str(folder))
    return folder


def test_onnx_fp32_same_entities_and_confidences_as_eager(trained_ner_dir, cache):
    eager = _predict(spacy.load(trained_ner_dir))
    nlp = spacy.load(trained_ner_dir, config=_runtime_config("onnx-fp32"))
    assert get_runtime(nlp.get_pipe("transformer").model) == "onnx-fp32"
    onnx_ = _predict(nlp)
    assert [p.name.endswith("-onnx-fp32.onnx") for p in cache.iterdir()] == [True]  # it ran on ORT
    assert sum(len(e) for e in eager[0]) >= 4  # the trained fixture finds entities
    assert onnx_[0] == eager[0]
    for a, b in zip(onnx_[1], eager[1]):
        numpy.testing.assert_allclose(a, b, atol=1e-5)
    for a, b in zip(onnx_[2], eager[2]):
        numpy.testing.assert_allclose(a, b, atol=1e-4)


def test_onnx_int8_is_quantised_and_agrees_with_fp32(trained_ner_dir, cache):
    eager = _predict(spacy.load(trained_ner_dir))[0]
    nlp = spacy.load(trained_ner_dir, config=_runtime_config("onnx-int8"))
    int8 = _predict(nlp)[0]
    files = list(cache.iterdir())
    assert [p.name.endswith("-onnx-int8.onnx") for p in files] == [True]
    ops = {n.op_type for n in onnx.load(str(files[0])).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul"}, ops
    # entity-level agreement (F1 of int8 against fp32's entities)
    pred = {(i, e) for i, d in enumerate(int8) for e in d}
    ref = {(i, e) for i, d in enumerate(eager) for e in d}
    assert ref and 2 * len(pred & ref) / (len(pred) + len(ref)) >= 0.8


def test_onnx_cache_is_reused_and_keyed_by_the_weights(trained_ner_dir, cache):
    first = _predict(spacy.load(trained_ner_dir, config=_runtime_config("onnx-fp32")))
    mtime = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    nlp = spacy.load(trained_ner_dir, config=_runtime_config("onnx-fp32"))
    _predict(nlp)
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == mtime  # reused, not re-exported
    module = torch_module(nlp.get_pipe("transformer").model)
    with torch.no_grad():
        module.embeddings.word_embeddings.weight.mul_(-1.0)  # new weights, changed in place
    changed = _predict(nlp)
    assert len(list(cache.iterdir())) == 2  # a second export, under the new weights' key
    eager = _predict(_with_weights(spacy.load(trained_ner_dir), module))
    assert changed[0] == eager[0]
    assert not numpy.allclose(changed[2][0], first[2][0], atol=1e-3)
    # a pickled or copied pipeline (worker processes) takes the setting, not the open session
    state = pickle.loads(pickle.dumps(runtime_state(nlp.get_pipe("transformer").model)))
    assert (state.runtime, state.encoder) == ("onnx-fp32", None)


def _with_weights(nlp, module):
    torch_module(nlp.get_pipe("transformer").model).load_state_dict(module.state_dict())
    return nlp


def test_onnx_training_runs_torch_and_next_prediction_uses_new_weights(trained_ner_dir, cache):
    from thinc.api import Adam

    nlp = spacy.load(trained_ner_dir, config=_runtime_config("onnx-fp32"))
    before = _predict(nlp)
    optimizer = Adam(0.01)
    examples = make_examples(nlp)
    losses = {}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, drop=0.0, losses=losses)
    assert losses["ner"] > 0
    after = _predict(nlp)
    use_runtime(nlp, "torch")
    eager_after = _predict(nlp)
    assert after[0] == eager_after[0]
    for a, b in zip(after[2], eager_after[2]):
        numpy.testing.assert_allclose(a, b, atol=1e-4)
    assert not numpy.allclose(after[2][0], before[2][0], atol=1e-4)  # the update changed them


def test_onnx_unknown_runtime_is_a_clear_error(trained_ner_dir):
    with pytest.raises(ValueError, match=r"E2130.*'onnx-int4'.*torch, onnx-fp32, onnx-int8"):
        spacy.load(trained_ner_dir, config=_runtime_config("onnx-int4"))


def test_onnx_without_onnxruntime_is_a_clear_error(trained_ner_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    with pytest.raises(ImportError, match=r"E2131.*spacy-biobert\[onnx\]"):
        spacy.load(trained_ner_dir, config=_runtime_config("onnx-int8"))


def test_onnx_damaged_cache_file_is_exported_again(trained_ner_dir, cache):
    eager = _predict(spacy.load(trained_ner_dir))[0]
    _predict(spacy.load(trained_ner_dir, config=_runtime_config("onnx-fp32")))
    (path,) = cache.iterdir()
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a killed copy
    with pytest.warns(UserWarning, match=r"W2130"):
        again = _predict(spacy.load(trained_ner_dir, config=_runtime_config("onnx-fp32")))[0]
    assert again == eager
    assert path.stat().st_size > 1000
