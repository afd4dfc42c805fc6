"""Every committed training config loads, validates and resolves its training
section, each with a tiny corpus in the format its reader expects (IOB TSV for
NER, SQuAD JSON for QA, GAD TSV and ChemProt folders for RE). Configs without
[corpora] (configs/chemprot_pipeline.cfg, which `spacy assemble`s trained
pipelines) are tested in test_re_pipeline.py."""

import json
from pathlib import Path

import pytest
import spacy
from spacy.util import registry
from thinc.api import Config

import spacy_biobert.ner.corpus  # noqa: F401 (registrations without a reinstall; test_registry checks entry points)
import spacy_biobert.qa.squad  # noqa: F401

CONFIGS = sorted((Path(__file__).parent.parent / "configs").rglob("*.cfg"))

# reader -> (file name, content, pipe names, component class, batches of 20 items)
SQUAD = {"data": [{"paragraphs": [{"context": "familial polyposis", "qas": [
    {"id": "q1", "question": "which disease ?", "answers": [{"text": "polyposis", "answer_start": 9}]}
]}]}]}
CHEMPROT = {
    "x_abstracts.tsv": "1\tAspirin inhibits COX-1.\tIt binds TP53.\n",
    "x_entities.tsv": "1\tT1\tCHEMICAL\t0\t7\tAspirin\n1\tT2\tGENE-Y\t17\t22\tCOX-1\n1\tT3\tGENE-N\t33\t37\tTP53\n",
    "x_gold_standard.tsv": "1\tCPR:4\tArg1:T1\tArg2:T2\n",
}
# fmt: off
CORPORA = {
    "spacy-biobert.IOBCorpus.v1": (
        "train.tsv", "familial\tB-Disease\npolyposis\tI-Disease\n\nthe\tO\n",
        ["transformer", "ner"], "BioBertNER", 2,
    ),
    "spacy-biobert.NERCorpus.v1": (
        "train.tsv", "familial\tB-Disease\npolyposis\tI-Disease\n\nthe\tO\n",
        ["transformer", "ner"], "BioBertNER", 2,
    ),
    "spacy-biobert.SquadCorpus.v1": ("train.json", json.dumps(SQUAD), ["qa"], "QuestionAnswerer", 3),
    "spacy-biobert.BinaryRERelationCorpus.v1": (
        "train.tsv", "@GENE$ causes @DISEASE$ .\t1\n", ["relation_extractor"], "RelationExtractor", 1,
    ),
    "spacy-biobert.ChemProtRelationCorpus.v1": (
        "chemprot", CHEMPROT, ["relation_extractor"], "RelationExtractor", 5,
    ),
    "spacy-biobert.ChemProtNERCorpus.v1": ("chemprot", CHEMPROT, ["transformer", "ner"], "BioBertNER", 2),
}
# examples each test corpus gives: sentences (IOB, ChemProt NER), passages
# (SQuAD), lines (GAD), abstracts (ChemProt relations)
N_EXAMPLES = {
    "spacy-biobert.IOBCorpus.v1": 2, "spacy-biobert.NERCorpus.v1": 2, "spacy-biobert.SquadCorpus.v1": 1,
    "spacy-biobert.BinaryRERelationCorpus.v1": 1, "spacy-biobert.ChemProtRelationCorpus.v1": 1,
    "spacy-biobert.ChemProtNERCorpus.v1": 2,
}
TRAINING_CONFIGS = [p for p in CONFIGS if "corpora" in Config().from_disk(p, interpolate=False)]
# fmt: on


def test_assembly_configs_are_the_known_ones():
    assert [p.name for p in CONFIGS if p not in TRAINING_CONFIGS] == ["chemprot_pipeline.cfg"]


@pytest.mark.parametrize("path", TRAINING_CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_configs_load_and_resolve(path, tiny_bert, tmp_path):
    reader = Config().from_disk(path, interpolate=False)["corpora"]["train"]["@readers"]
    assert reader in CORPORA, f"{path.name}: no test corpus for reader {reader}"
    name, content, pipe_names, cls_name, n_batches = CORPORA[reader]
    train = tmp_path / name
    if isinstance(content, dict):  # a folder of files
        train.mkdir()
        for file_name, text in content.items():
            (train / file_name).write_text(text, encoding="utf8")
    else:
        train.write_text(content, encoding="utf8")
    overrides = {"paths.base_model": str(tiny_bert), "paths.train": str(train), "paths.dev": str(train)}
    config = Config().from_disk(path, overrides=overrides)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == pipe_names
    assert nlp.get_pipe(pipe_names[-1]).__class__.__name__ == cls_name
    training = nlp.config.interpolate()["training"]
    resolved = registry.resolve(
        {"batcher": training["batcher"], "lr": training["optimizer"]["learn_rate"]}
    )
    assert len(list(resolved["batcher"]([[1]] * 20))) == n_batches
    peak = training["optimizer"]["learn_rate"]["initial_rate"]
    # the first rates stay within [0, peak] and are not all 0 (a rate that trains)
    lr = iter(resolved["lr"])
    rates = [next(lr) for _ in range(3)]
    assert all(0.0 <= r <= peak for r in rates) and max(rates) > 0.0
    corpus = registry.resolve({"c": nlp.config.interpolate()["corpora"]["train"]})["c"]
    assert len(list(corpus(nlp))) == N_EXAMPLES[reader]
