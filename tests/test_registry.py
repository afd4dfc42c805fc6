"""Everything spaCy must find is registered through entry points."""

import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from spacy.util import registry

# fmt: off
ENTRY_POINTS = [
    ("spacy_factories", "biobert_ner", "factories"),
    ("spacy_factories", "biobert_relation_extractor", "factories"),
    ("spacy_architectures", "spacy-biobert.PairClassifier.v1", "architectures"),
    ("spacy_scorers", "spacy-biobert.relation_scorer.v1", "scorers"),
    ("spacy_misc", "spacy-biobert.sentence_pairs.v1", "misc"),
    ("spacy_architectures", "spacy-biobert.TokenClassifier.v1", "architectures"),
    ("spacy_architectures", "spacy-biobert.TokenClassifier.v2", "architectures"),
    ("spacy_architectures", "spacy-biobert.TransformerModel.v1", "architectures"),
    ("spacy_readers", "spacy-biobert.IOBCorpus.v1", "readers"),
    ("spacy_readers", "spacy-biobert.BinaryRECorpus.v1", "readers"),
    ("spacy_readers", "spacy-biobert.ChemProtCorpus.v1", "readers"),
    ("spacy_scorers", "spacy-biobert.seqeval_ner_scorer.v1", "scorers"),
    ("spacy_scorers", "spacy-biobert.re_binary_scorer.v1", "scorers"),
    ("spacy_scorers", "spacy-biobert.chemprot_scorer.v1", "scorers"),
    ("spacy_misc", "spacy-biobert.sentencizer_splitter.v1", "misc"),
    ("spacy_misc", "spacy-biobert.base_model.v1", "misc"),
    ("spacy_misc", "spacy-biobert.tokenizer_config.v1", "misc"),
    ("spacy_callbacks", "spacy-biobert.check_base_model.v1", "callbacks"),
    ("spacy_batchers", "spacy-biobert.batch_by_length.v1", "batchers"),
    ("spacy_factories", "biobert_qa", "factories"),
    ("spacy_architectures", "spacy-biobert.SpanExtractor.v1", "architectures"),
    ("spacy_readers", "spacy-biobert.SquadCorpus.v1", "readers"),
    ("spacy_scorers", "spacy-biobert.qa_scorer.v1", "scorers"),
    ("thinc_schedules", "spacy-biobert.warmup_linear_epochs.v1", "schedules"),
]
# fmt: on


@pytest.mark.parametrize("group,name,registry_name", ENTRY_POINTS)
def test_registry_entry_point_resolves(group, name, registry_name):
    eps = {ep.name: ep for ep in entry_points(group=group)}
    assert name in eps, f"{name} is not declared under {group}: reinstall the package"
    func = eps[name].load()
    assert registry.get(registry_name, name) is func


def test_registry_span_getter_entry_point():
    from spacy_transformers.util import registry as trf_registry

    assert trf_registry.span_getters.get("spacy-biobert.bounded_strided_spans.v1")


def test_registry_add_pipe_without_import():
    """A fresh interpreter finds the factory through the entry point alone."""
    code = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en')\n"
        "ner = nlp.add_pipe('biobert_ner', name='ner')\n"
        "print(type(ner).__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "spacy_biobert.pipeline.ner"


def test_registry_package_requirements_list_spacy_biobert(tiny_bert):
    """`spacy package` adds spacy-biobert to a pipeline's requirements by itself."""
    from spacy.cli.package import get_third_party_dependencies
    from util import make_ner_nlp

    nlp = make_ner_nlp(tiny_bert)
    deps = get_third_party_dependencies(nlp.config)
    assert any(d.startswith("spacy-biobert") for d in deps), deps
    assert any(d.startswith("spacy-transformers") for d in deps), deps
