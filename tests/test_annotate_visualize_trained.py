"""`spacy-biobert annotate` and `spacy-biobert visualize` on real (tiny,
trained) pipelines: an entity_ruler + biobert_relation_extractor pipeline and
a biobert_qa pipeline, each overfitted on hand-made examples until it predicts
them (tests/tiny_pipelines.py), saved, then run through the CLI."""

import re

import pytest
from tiny_pipelines import QA_DATA, REL_WORDS, train_qa_nlp, train_relation_nlp
from typer.testing import CliRunner
from util import make_tiny_bert, read_records

from spacy_biobert.cli import app

REL_TEXTS = [
    "aspirin inhibits cox1 .",
    "caffeine activates ryr1 .",
    "water and gene5 were observed .",
    "aspirin inhibits cox1 but caffeine activates ryr1 .",
]
QUESTIONS = [q for _, q, _ in QA_DATA]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def re_dir(tmp_path_factory):
    base = make_tiny_bert(tmp_path_factory.mktemp("tiny_bert_re_cli") / "model", extra_words=REL_WORDS)
    nlp = train_relation_nlp(base, ruler=True)
    path = tmp_path_factory.mktemp("re_pipeline") / "nlp"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def qa_dir(tiny_bert, tmp_path_factory):
    nlp = train_qa_nlp(tiny_bert)
    path = tmp_path_factory.mktemp("qa_pipeline") / "nlp"
    nlp.to_disk(path)
    return path


def _rel(record):
    """(head text, tail text, label) of a record's relations, in order."""
    text = record["text"]
    return [(text[r["head"]["start_char"]:r["head"]["end_char"]],
             text[r["tail"]["start_char"]:r["tail"]["end_char"]], r["label"]) for r in record["relations"]]


def test_annotate_relation_pipeline(re_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(REL_TEXTS) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    result = invoke("annotate", re_dir, src, out, "--text", "--batch-size", 2)
    assert result.exit_code == 0, result.output
    records = read_records(out)
    assert [r["id"] for r in records] == ["1", "2", "3", "4"]
    assert [[(e["text"], e["label"]) for e in r["entities"]] for r in records] == [
        [("aspirin", "CHEMICAL"), ("cox1", "GENE")], [("caffeine", "CHEMICAL"), ("ryr1", "GENE")],
        [("water", "CHEMICAL"), ("gene5", "GENE")],
        [("aspirin", "CHEMICAL"), ("cox1", "GENE"), ("caffeine", "CHEMICAL"), ("ryr1", "GENE")],
    ]
    assert [_rel(r) for r in records] == [
        [("aspirin", "cox1", "INHIBITOR")], [("caffeine", "ryr1", "ACTIVATOR")], [],
        [("aspirin", "cox1", "INHIBITOR"), ("caffeine", "ryr1", "ACTIVATOR")],
    ]
    for rel in records[3]["relations"]:
        assert set(rel["scores"]) == {"false", "ACTIVATOR", "INHIBITOR"}
        assert rel["score"] == max(rel["scores"].values()) > 0.5
        assert rel["scores"][rel["label"]] == rel["score"]
    # questions without a QA component: a warning, and no answers in the records
    with pytest.warns(UserWarning, match="W2601"):
        result = invoke("annotate", re_dir, src, tmp_path / "q.jsonl", "--question", "Which gene?")
    assert result.exit_code == 0, result.output
    assert all("answers" not in r for r in read_records(tmp_path / "q.jsonl"))


def test_annotate_qa_pipeline(qa_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(text for text, _, _ in QA_DATA) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    args = ["annotate", qa_dir, src, out]
    for q in QUESTIONS:
        args += ["--question", q]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    records = read_records(out)
    assert len(records) == 2
    for i, (record, (text, _question, answer)) in enumerate(zip(records, QA_DATA)):
        assert [a["question"] for a in record["answers"]] == QUESTIONS
        best = record["answers"][i]["answers"][0]  # the question trained on this passage
        assert best["text"] == answer and text[best["start_char"]:best["end_char"]] == answer
        for a in record["answers"][i]["answers"]:
            assert text[a["start_char"]:a["end_char"]] == a["text"]
        assert best["score"] == max(a["score"] for a in record["answers"][i]["answers"])
    # without --question the QA component has nothing to answer
    result = invoke("annotate", qa_dir, src, tmp_path / "none.jsonl")
    assert result.exit_code == 0, result.output
    assert [r["answers"] for r in read_records(tmp_path / "none.jsonl")] == [[], []]


def _arc_labels(page):
    return re.findall(r'class="displacy-label"[^>]*>([^<]+)</textPath>', page)


def _marks(page):
    """(marked text, label) of every displaCy entity mark."""
    return [(m.group(1).strip(), m.group(2).strip()) for m in re.finditer(
        r'<mark class="entity"[^>]*>\s*(.*?)\s*<span[^>]*>\s*(.*?)\s*</span>', page, re.S)]


def test_visualize_relation_pipeline(re_dir, tmp_path):
    out = tmp_path / "page.html"
    result = invoke("visualize", re_dir, REL_TEXTS[3], "--output", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf8")
    assert "<h2>Relations</h2>" in page and "No relations." not in page
    assert sorted(_arc_labels(page)) == ["ACTIVATOR", "INHIBITOR"]
    words = re.findall(r'class="displacy-word"[^>]*>([^<]+)</tspan>', page)
    assert words == ["aspirin", "inhibits", "cox1", "but", "caffeine", "activates", "ryr1", "."]
    assert [m[0] for m in _marks(page)] == ["aspirin", "cox1", "caffeine", "ryr1"]
    # a text with mentions but no relation: the section says so
    result = invoke("visualize", re_dir, REL_TEXTS[2], "--output", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf8")
    assert _arc_labels(page) == [] and "No relations." in page


def test_visualize_qa_pipeline(qa_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n\n".join(text for text, _, _ in QA_DATA) + "\n", encoding="utf8")
    out = tmp_path / "page.html"
    args = ["visualize", qa_dir, src, "--output", out]
    for q in QUESTIONS:
        args += ["--question", q]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf8")
    assert "<h2>Answers</h2>" in page and "No answers." not in page
    answers = page.split("<h2>Answers</h2>", 1)[1]
    # one block per passage and question, each titled with its question
    assert answers.count("Q: what is the gene ?") == 2 and answers.count("Q: which disease ?") == 2
    best = [text for text, label in _marks(answers) if label.startswith("#1 ")]
    assert best[0] == "apc gene" and best[3] == "breast cancer" and len(best) == 4
    # without questions: no answers shown
    result = invoke("visualize", qa_dir, src, "--output", out)
    assert result.exit_code == 0, result.output
    assert "No answers." in out.read_text(encoding="utf8")
