"""Pipelines saved by older code load and predict the same with this code.

tests/fixtures/old_pipelines/{ner,relations,qa} were saved with ``nlp.to_disk``
by tests/fixtures/make_old_pipelines.py at the commit recorded in
expected.json (before the package restructuring), together with what they
predicted then. Here each is loaded with ``spacy.load`` and run over the same
inputs; entities, relations and answers must be identical (labels, offsets,
order) and every score equal within 1e-5.

Only the public API is used (``spacy.load``, ``spacy_biobert.set_questions``,
the ``doc._`` attributes), so the test holds whatever the internal module
layout is. Each pipeline is copied to tmp_path and loaded from there, with
tmp_path as the working directory (the saved config names its tiny base model
by a relative path that must not be needed).
"""

import json
import math
import shutil
from pathlib import Path

import pytest
import spacy

import spacy_biobert

FIXTURES = Path(__file__).parent / "fixtures" / "old_pipelines"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf8"))
ABS_TOL = 1e-5
# The pipelines name a base model folder ("tiny-bert") that is gone on purpose: a
# trained pipeline carries its weights and tokenizer, so loading only warns that
# the casing cannot be read from the base model (W2001).
pytestmark = pytest.mark.filterwarnings("ignore:.*\\[W2001\\]:UserWarning")


def assert_same(got, want, where="output"):
    """`got` equals `want` exactly, except that floats may differ by ABS_TOL."""
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), (
            f"{where}: {got!r} is not a number"
        )
        assert math.isclose(got, want, rel_tol=0.0, abs_tol=ABS_TOL), (
            f"{where}: {got!r} != {want!r}"
        )
    elif isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: {got!r} is not a dict"
        assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, list):
        assert isinstance(got, (list, tuple)), f"{where}: {got!r} is not a list"
        assert len(got) == len(want), (
            f"{where}: {len(got)} items != {len(want)}: {got!r} vs {want!r}"
        )
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def load(name, tmp_path, monkeypatch):
    path = tmp_path / name
    shutil.copytree(FIXTURES / name, path)
    monkeypatch.chdir(tmp_path)
    return spacy.load(path)


def test_expected_is_not_empty():
    assert EXPECTED["made_at_commit"]
    assert sum(len(r["ents"]) for r in EXPECTED["ner"]) >= 1
    assert sum(len(r["relations"] or []) for r in EXPECTED["relations"]) >= 1
    assert sum(len(a["answers"]) for r in EXPECTED["qa"] for a in r["answers"]) >= 1


@pytest.mark.filterwarnings("ignore:.*W001")
def test_old_ner_pipeline(tmp_path, monkeypatch):
    nlp = load("ner", tmp_path, monkeypatch)
    want = EXPECTED["ner"]
    got = []
    for record in want:
        doc = nlp(record["text"])
        got.append(
            {
                "text": doc.text,
                "ents": [
                    {
                        "start_char": e.start_char,
                        "end_char": e.end_char,
                        "label": e.label_,
                        "text": e.text,
                        "confidence": e._.confidence,
                    }
                    for e in doc.ents
                ],
            }
        )
    assert any(r["ents"] for r in got)
    assert_same(got, want, "ner")


@pytest.mark.filterwarnings("ignore:.*W001")
def test_old_relation_pipeline(tmp_path, monkeypatch):
    nlp = load("relations", tmp_path, monkeypatch)
    want = EXPECTED["relations"]
    got = []
    for record in want:
        doc = nlp(record["text"])
        got.append(
            {
                "text": doc.text,
                "ents": [
                    {
                        "start_char": e.start_char,
                        "end_char": e.end_char,
                        "label": e.label_,
                    }
                    for e in doc.ents
                ],
                "relations": doc._.relations,
            }
        )
    assert any(r["relations"] for r in got)
    assert_same(got, want, "relations")


@pytest.mark.filterwarnings("ignore:.*W001")
def test_old_qa_pipeline(tmp_path, monkeypatch):
    nlp = load("qa", tmp_path, monkeypatch)
    want = EXPECTED["qa"]
    got = []
    for record in want:
        doc = nlp(
            spacy_biobert.set_questions(
                nlp.make_doc(record["text"]), record["questions"]
            )
        )
        got.append(
            {
                "text": doc.text,
                "questions": record["questions"],
                "answers": doc._.answers,
            }
        )
    assert any(a["answers"] for r in got for a in r["answers"])
    assert_same(got, want, "qa")
