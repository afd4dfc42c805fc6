"""The paper's untyped NER protocol (PROTOCOL.md): every NER set, JNLPBA
included, is trained and scored with all entity types as one class.

Expected scores are worked out by hand with the conlleval / seqeval rules
(entity-level exact match, an orphan I-X starts an entity): untyped, a span
with the right boundaries and the wrong type is a true positive; typed, it is
one false positive and one false negative."""

import shlex
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Config

from spacy_biobert.apps.compare import (
    CompareSettings,
    Run,
    evaluate_command,
    train_command,
)
from spacy_biobert.apps.evaluate import evaluate_ner, markdown_table
from spacy_biobert.ner.iob import read_iob_sentences
from spacy_biobert.ner.readers import read_iob_docs
from spacy_biobert.ner.scorer import seqeval_prf
from spacy_biobert.ner.tags import iob_to_spans

ROOT = Path(__file__).parent.parent

# words of a sentence -> predicted (start, end, label) spans, for _oracle
PREDICTIONS: Dict[Tuple[str, ...], List[Tuple[int, int, str]]] = {}


@Language.component("test_ner_protocol_oracle")
def _oracle(doc: Doc) -> Doc:
    """Sets the entities PREDICTIONS holds for the doc's words: a stand-in for
    a trained model whose predictions are known exactly."""
    doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in PREDICTIONS.get(tuple(t.text for t in doc), [])]
    return doc


def _oracle_nlp(predictions: Dict[Tuple[str, ...], List[Tuple[int, int, str]]]) -> Language:
    PREDICTIONS.clear()
    PREDICTIONS.update(predictions)
    nlp = spacy.blank("en")
    nlp.add_pipe("test_ner_protocol_oracle")
    return nlp


def test_seqeval_untyped_and_typed_by_hand():
    gold = [
        ["B-protein", "I-protein", "O", "B-DNA", "O"],
        ["O", "B-cell_type", "I-cell_type", "O"],
        ["B-cell_line", "O"],
        ["O", "O"],
    ]
    pred = [
        ["B-protein", "I-protein", "O", "B-RNA", "O"],  # right; right span, wrong type
        ["B-cell_type", "I-cell_type", "I-cell_type", "O"],  # wrong boundaries
        ["O", "I-protein"],  # orphan I: an entity (conlleval); the gold one missed
        ["B-DNA", "O"],  # spurious
    ]
    # 4 gold, 5 predicted entities. Untyped: TP 2 (sentence 1) -> P 2/5, R 2/4.
    untyped = seqeval_prf(gold, pred, untyped=True)
    assert untyped["ents_p"] == pytest.approx(2 / 5)
    assert untyped["ents_r"] == pytest.approx(2 / 4)
    assert untyped["ents_f"] == pytest.approx(4 / 9)
    # Typed: the RNA/DNA span is an FP and an FN -> TP 1: P 1/5, R 1/4.
    typed = seqeval_prf(gold, pred, untyped=False)
    assert typed["ents_p"] == pytest.approx(1 / 5)
    assert typed["ents_r"] == pytest.approx(1 / 4)
    assert typed["ents_f"] == pytest.approx(2 / 9)
    assert typed["ents_per_type"]["protein"]["p"] == pytest.approx(1 / 2)  # one of the two protein predictions


def test_seqeval_scorer_untyped_counts_wrong_type_as_hit():
    """The registered scorer (configs/ner.cfg's, untyped = true) on Examples."""
    nlp = spacy.blank("en")
    words = ["IL-2", "gene", "expression", "in", "T", "cells"]
    ref = Doc(nlp.vocab, words=words)
    ref.ents = [Span(ref, 0, 2, "DNA"), Span(ref, 4, 6, "cell_type")]
    pred = Doc(nlp.vocab, words=words)
    pred.ents = [Span(pred, 0, 2, "protein"), Span(pred, 4, 6, "cell_type")]
    eg = Example(pred, ref)
    make = spacy.registry.scorers.get("spacy-biobert.seqeval_ner_scorer.v1")
    untyped = make(untyped=True)([eg])
    assert (untyped["ents_p"], untyped["ents_r"], untyped["ents_f"]) == (1.0, 1.0, 1.0)
    typed = make(untyped=False)([eg])
    assert typed["ents_p"] == pytest.approx(1 / 2) and typed["ents_r"] == pytest.approx(1 / 2)


SENTENCES = [
    # words, gold tags, predicted spans of a typed model
    ("IL-2 gene expression in T cells".split(),
     ["B-DNA", "I-DNA", "O", "O", "B-cell_type", "I-cell_type"],
     [(0, 2, "protein"), (4, 6, "cell_type")]),  # wrong type; right
    ("NF-kappa B binds the promoter".split(),
     ["B-protein", "I-protein", "O", "O", "O"],
     [(0, 1, "protein"), (3, 5, "DNA")]),  # wrong boundaries; spurious
    ("Jurkat cells were used".split(),
     ["B-cell_line", "I-cell_line", "O", "O"],
     [(0, 2, "cell_line")]),  # right
]


def _write_iob(path: Path) -> Path:
    lines = []
    for words, tags, _ in SENTENCES:
        lines += [f"{w}\t{t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def test_evaluate_ner_several_types_untyped_headline_typed_beside(tmp_path):
    path = _write_iob(tmp_path / "test.tsv")
    nlp = _oracle_nlp({tuple(w): spans for w, _, spans in SENTENCES})
    res = evaluate_ner(nlp, path, show_progress=False)  # default: the paper's protocol
    # 4 gold, 5 predicted. Untyped TP 3 (the wrong-type span counts): P 3/5, R 3/4, F1 2/3.
    assert res["protocol"] == "untyped"
    assert res["precision"] == pytest.approx(3 / 5)
    assert res["recall"] == pytest.approx(3 / 4)
    assert res["f1"] == pytest.approx(2 / 3)
    assert res["untyped"]["f1"] == pytest.approx(2 / 3)
    # Typed TP 2: P 2/5, R 2/4, F1 4/9; DNA and protein have no TP
    assert res["typed"]["precision"] == pytest.approx(2 / 5)
    assert res["typed"]["recall"] == pytest.approx(2 / 4)
    assert res["typed"]["f1"] == pytest.approx(4 / 9)
    assert res["typed"]["per_type"]["cell_line"]["f"] == 1.0
    assert res["typed"]["per_type"]["DNA"]["f"] == 0.0
    assert res["gold_types"] == ["DNA", "cell_line", "cell_type", "protein"]
    assert res["n_gold_entities"] == 4 and res["n_pred_entities"] == 5
    table = markdown_table(dict(res, dataset="toy", split="test", model="m", metric="seqeval"))
    assert "| toy | 60.00 | 75.00 | 66.67 |" in table
    assert "| untyped: all types as one (the paper's) | 60.00 | 75.00 | 66.67 |" in table
    assert "| typed | 40.00 | 50.00 | 44.44 |" in table
    # --typed: the typed score is the headline, the untyped one beside it
    res_typed = evaluate_ner(nlp, path, untyped=False, show_progress=False)
    assert res_typed["protocol"] == "typed"
    assert res_typed["f1"] == pytest.approx(4 / 9)
    assert res_typed["untyped"]["f1"] == pytest.approx(2 / 3)


def test_evaluate_ner_model_trained_untyped_has_no_typed_score(tmp_path):
    """A model trained the paper's way predicts one label (ENTITY): its untyped
    score is the same as the typed model's above; a typed score would be
    meaningless, so it is None with the reason."""
    path = _write_iob(tmp_path / "test.tsv")
    nlp = _oracle_nlp({tuple(w): [(s, e, "ENTITY") for s, e, _ in spans] for w, _, spans in SENTENCES})
    res = evaluate_ner(nlp, path, show_progress=False)
    assert (res["precision"], res["recall"]) == (pytest.approx(3 / 5), pytest.approx(3 / 4))
    assert res["typed"] is None and "ENTITY" in res["typed_note"]
    table = markdown_table(dict(res, dataset="toy", split="test", model="m", metric="seqeval"))
    assert "| typed | - | - | - |" in table


def test_single_type_set_scores_unchanged(shared_data):
    """NCBI-disease has one type: a model trained untyped (ENTITY) scored
    untyped gets exactly the P/R/F1 of the same predictions typed (Disease)
    scored typed, so the set's figures do not move. Predictions: the gold
    entities with a third dropped and a fifth one token longer."""
    path = shared_data / "ner" / "ncbi_disease" / "test.tsv"
    typed_preds, untyped_preds = {}, {}
    for i, sent in enumerate(read_iob_sentences(path)):
        spans = []
        for j, (s, e, label) in enumerate(iob_to_spans(sent.tags)):
            if (i + j) % 3 == 0:
                continue
            if (i + j) % 5 == 0 and e < len(sent.words) and sent.tags[e] == "O":
                e += 1
            spans.append((s, e, label))
        typed_preds[tuple(sent.words)] = spans
        untyped_preds[tuple(sent.words)] = [(s, e, "ENTITY") for s, e, _ in spans]
    typed = evaluate_ner(_oracle_nlp(typed_preds), path, untyped=False, show_progress=False)
    untyped = evaluate_ner(_oracle_nlp(untyped_preds), path, untyped=True, show_progress=False)
    assert typed["gold_types"] == ["Disease"] and "typed" not in untyped
    assert typed["n_gold_entities"] == 960 and 0.5 < typed["recall"] < 0.7
    assert (untyped["precision"], untyped["recall"], untyped["f1"]) == (
        typed["precision"], typed["recall"], typed["f1"])


def test_jnlpba_read_untyped(shared_data):
    """JNLPBA's five types become one class, with the same entity spans."""
    path = shared_data / "ner" / "jnlpba" / "test.tsv"
    nlp = spacy.blank("en")
    typed = list(read_iob_docs(path, nlp.vocab))
    untyped = list(read_iob_docs(path, nlp.vocab, untyped=True))
    assert {e.label_ for d in typed for e in d.ents} == {"DNA", "RNA", "cell_line", "cell_type", "protein"}
    assert {e.label_ for d in untyped for e in d.ents} == {"ENTITY"}
    assert [[(e.start, e.end) for e in d.ents] for d in untyped] == [[(e.start, e.end) for e in d.ents] for d in typed]


# ---------------------------------------------------------------------------
# Every paper-protocol command of project.yml uses the untyped protocol


def _commands() -> Dict[str, List[str]]:
    project = srsly.read_yaml(ROOT / "project.yml")
    return {c["name"]: [" ".join(line.split()) for line in c.get("script", [])] for c in project["commands"]}


def _config(path: str) -> Config:
    return Config().from_disk(ROOT / path.replace("${vars.config_dir}", "configs"), interpolate=False)


def _is_iob_ner_config(cfg: Config) -> bool:
    readers = ("spacy-biobert.IOBCorpus.v1", "spacy-biobert.NERCorpus.v1")
    return any(str(c.get("@readers", "")) in readers for c in cfg.get("corpora", {}).values())


def _overrides(argv: List[str]) -> Dict[str, str]:
    return {a[2:]: b for a, b in zip(argv, argv[1:]) if a.startswith("--") and "." in a}


def test_project_paper_protocol_commands_untyped():
    checked = {"train": [], "evaluate": [], "compare": []}
    own = []
    for name, lines in _commands().items():
        if name.startswith("own-"):
            # a user's own data keeps its entity types (README, "Train on your
            # own data"); not the paper's protocol, checked typed below
            own.extend(" ".join(lines).split())
            continue
        for line in lines:
            argv = shlex.split(line)
            if argv[:4] == ["python", "-m", "spacy", "train"]:
                cfg = _config(argv[4])
                if not _is_iob_ner_config(cfg):
                    continue  # ChemProt's NER and RE, QA: not the eight NER sets
                over = _overrides(argv)
                for key in ("corpora.train.untyped", "corpora.dev.untyped"):
                    section, _, field = key.rpartition(".")
                    value = over.get(key, str(cfg["corpora"][section.split(".")[1]][field]).lower())
                    assert value == "true", f"{name}: {key} = {value}"
                scorer = over.get("components.ner.scorer.untyped", str(cfg["components"]["ner"]["scorer"]["untyped"]).lower())
                assert scorer == "true", f"{name}: the dev scorer is typed"
                checked["train"].append(name)
            elif argv[:4] == ["python", "-m", "spacy_biobert", "evaluate"]:
                assert "--untyped" in argv and "--typed" not in argv, name
                checked["evaluate"].append(name)
            elif argv[:4] == ["python", "-m", "spacy_biobert", "compare"]:
                assert "--untyped" in argv and "--typed" not in argv, name
                assert _is_iob_ner_config(_config(argv[argv.index("--config") + 1])), name
                checked["compare"].append(name)
    # the commands this test exists for were found (a renamed script is not a silent pass)
    assert {"train", "train-ci"} <= set(checked["train"])
    assert {"evaluate", "evaluate-ci"} <= set(checked["evaluate"])
    assert {"compare", "compare-curve"} <= set(checked["compare"])
    assert "--typed" in own and "--corpora.train.untyped" in own


def test_ner_configs_untyped():
    for path in ("configs/ner.cfg", "configs/test/ner.cfg"):
        cfg = _config(path)
        assert cfg["corpora"]["train"]["untyped"] is True, path
        assert cfg["corpora"]["dev"]["untyped"] is True, path
        assert cfg["components"]["ner"]["scorer"]["untyped"] is True, path


def test_compare_runs_untyped_by_default(tmp_path):
    run = Run(dataset="jnlpba", start="bert", base_model="embedded", seed=0)
    settings = CompareSettings()
    train = train_command(run, settings, tmp_path)
    over = _overrides(train)
    assert over["corpora.train.untyped"] == "true" and over["corpora.dev.untyped"] == "true"
    assert "--untyped" in evaluate_command(run, settings, tmp_path)
    typed = CompareSettings(untyped=False)
    assert _overrides(train_command(run, typed, tmp_path))["corpora.train.untyped"] == "false"
    assert "--typed" in evaluate_command(run, typed, tmp_path)


def test_throughput_f1_is_untyped(tmp_path):
    """`benchmark-throughput --f1` scores with the paper's protocol too."""
    from spacy_biobert.benchmarks.throughput import f1_on

    path = _write_iob(tmp_path / "test.tsv")
    res = f1_on(_oracle_nlp({tuple(w): spans for w, _, spans in SENTENCES}), path)
    assert (res["precision"], res["recall"]) == (pytest.approx(3 / 5), pytest.approx(3 / 4))


def test_untyped_label_empty_keeps_the_one_type(tmp_path):
    """untyped_label = "" (the configs): a file with one type keeps its name, so a
    pipeline trained the paper's way on NCBI-disease still labels `Disease`; a
    file with several types gets one ENTITY class."""
    from spacy_biobert.ner.readers import create_iob_corpus

    one = tmp_path / "one.tsv"
    one.write_text("Aspirin\tO\ncauses\tO\nbreast\tB-Disease\ncancer\tI-Disease\n\nfever\tB-Disease\n\n")
    two = tmp_path / "two.tsv"
    two.write_text("IL-2\tB-protein\ngene\tB-DNA\n\n")
    nlp = spacy.blank("en")
    labels = {}
    for path in (one, two):
        examples = list(create_iob_corpus(path, untyped=True, untyped_label="")(nlp))
        labels[path.name] = [[(e.start, e.end, e.label_) for e in ex.reference.ents] for ex in examples]
    assert labels["one.tsv"] == [[(2, 4, "Disease")], [(0, 1, "Disease")]]
    assert labels["two.tsv"] == [[(0, 1, "ENTITY"), (1, 2, "ENTITY")]]
    # an explicit label still wins
    ex = list(create_iob_corpus(one, untyped=True, untyped_label="X")(nlp))
    assert [e.label_ for e in ex[0].reference.ents] == ["X"]
