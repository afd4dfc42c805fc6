"""Every committed config loads, validates and resolves its training section."""

from pathlib import Path

import pytest
import spacy
from spacy.util import registry
from thinc.api import Config

CONFIGS = sorted((Path(__file__).parent.parent / "configs").rglob("*.cfg"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_configs_load_and_resolve(path, tiny_bert, tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("familial\tB-Disease\npolyposis\tI-Disease\n\nthe\tO\n", encoding="utf8")
    overrides = {"paths.base_model": str(tiny_bert), "paths.train": str(train), "paths.dev": str(train)}
    config = Config().from_disk(path, overrides=overrides)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["transformer", "ner"]
    assert nlp.get_pipe("ner").__class__.__name__ == "BioBertNER"
    training = nlp.config.interpolate()["training"]
    resolved = registry.resolve(
        {"batcher": training["batcher"], "lr": training["optimizer"]["learn_rate"]}
    )
    assert len(list(resolved["batcher"]([[1]] * 20))) == 2
    peak = training["optimizer"]["learn_rate"]["initial_rate"]
    assert 0.0 <= next(iter(resolved["lr"])) <= peak
