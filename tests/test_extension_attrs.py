"""The factory settings that rename the custom attributes: `confidence_attr`
(biobert_ner), `relations_attr` (biobert_relation_extractor), `questions_attr`
and `answers_attr` (biobert_qa). A pipeline with another name writes and reads
that attribute and leaves the default one alone, also after to_disk/from_disk
(the attribute is removed in between, so loading has to install it again)."""

import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.util import fix_random_seed
from tiny_pipelines import (
    QA_DATA,
    REL_DATA,
    REL_WORDS,
    gold_triples,
    qa_examples,
    rel_doc,
    rel_triples,
    train_qa_nlp,
    train_relation_nlp,
)
from util import TRAIN_DATA, make_examples, make_ner_nlp, make_tiny_bert, overfit

from spacy_biobert.apps.annotate import RecordWriter
from spacy_biobert.extensions import install_extensions


def _reload(nlp, path, *, span_attrs=(), doc_attrs=()):
    nlp.to_disk(path)
    for name in span_attrs:
        Span.remove_extension(name)
    for name in doc_attrs:
        Doc.remove_extension(name)
    return spacy.load(path)


def test_ner_confidence_attr(tiny_bert, tmp_path):
    install_extensions()  # the default attribute exists: it must stay unset
    nlp = make_ner_nlp(tiny_bert, **{"components.ner.confidence_attr": "ner_conf"})
    overfit(nlp, make_examples(nlp))
    text, ents = TRAIN_DATA[0]
    doc = nlp(text)
    assert [(e.start, e.end, e.label_) for e in doc.ents] == ents
    conf = [e._.ner_conf for e in doc.ents]
    assert all(0.5 < c <= 1.0 for c in conf)
    assert [e._.confidence for e in doc.ents] == [None, None]
    # annotate's records take the confidence from the pipeline's attribute
    record = RecordWriter.for_pipeline(nlp).record("1", doc)
    assert [e["confidence"] for e in record["entities"]] == pytest.approx(conf)

    nlp2 = _reload(nlp, tmp_path / "ner", span_attrs=["ner_conf"])
    assert nlp2.get_pipe("ner").cfg["confidence_attr"] == "ner_conf"
    doc2 = nlp2(text)
    assert [(e.start, e.end, e.label_) for e in doc2.ents] == ents
    assert [e._.ner_conf for e in doc2.ents] == pytest.approx(conf, abs=1e-5)
    assert [e._.confidence for e in doc2.ents] == [None, None]


@pytest.fixture(scope="module")
def rel_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert_attrs") / "model", extra_words=REL_WORDS)


def test_relation_extractor_relations_attr(rel_bert, tmp_path):
    install_extensions()
    # trained with the gold relations in doc._.rels (train_relation_nlp checks it learnt them)
    nlp = train_relation_nlp(rel_bert, relations_attr="rels")
    words, ents, rels = REL_DATA[3]
    doc = nlp(rel_doc(nlp.vocab, words, ents))
    assert rel_triples(doc, "rels") == gold_triples(words, ents, rels) == [
        ("aspirin", "cox1", "INHIBITOR"), ("caffeine", "ryr1", "ACTIVATOR")]
    assert doc._.relations is None
    # nlp.evaluate reads the gold relations from the same attribute
    egs = [spacy.training.Example(rel_doc(nlp.vocab, w, e), rel_doc(nlp.vocab, w, e, r, relations_attr="rels"))
           for w, e, r in REL_DATA]
    assert nlp.evaluate(egs)["rel_micro_f"] == pytest.approx(1.0)
    assert RecordWriter.for_pipeline(nlp).record("1", doc)["relations"] == list(doc._.rels)

    nlp2 = _reload(nlp, tmp_path / "re", doc_attrs=["rels"])
    assert nlp2.get_pipe("relation_extractor").cfg["relations_attr"] == "rels"
    doc2 = nlp2(rel_doc(nlp2.vocab, words, ents))
    assert rel_triples(doc2, "rels") == rel_triples(doc, "rels")
    assert doc2._.relations is None


def test_qa_questions_attr(tiny_bert, tmp_path):
    install_extensions()
    nlp = train_qa_nlp(tiny_bert, questions_attr="qs")
    text, question, answer = QA_DATA[0]
    # the questions are read from doc._.qs ...
    doc = nlp.make_doc(text)
    doc._.qs = [question]
    doc = nlp(doc)
    assert [r["question"] for r in doc._.answers] == [question]
    assert doc._.answers[0]["answers"][0]["text"] == answer
    # ... and not from doc._.questions
    doc = nlp.make_doc(text)
    doc._.questions = [question]
    assert nlp(doc)._.answers == []
    # the as_tuples context key is the attribute's name too
    (doc,) = [d for d, _ in nlp.pipe([(text, {"qs": [question]})], as_tuples=True)]
    assert doc._.qs == [question] and doc._.answers[0]["answers"][0]["text"] == answer

    nlp2 = _reload(nlp, tmp_path / "qa", doc_attrs=["qs"])
    assert nlp2.get_pipe("qa").cfg["questions_attr"] == "qs"
    doc2 = nlp2.make_doc(text)
    doc2._.qs = [question]
    assert nlp2(doc2)._.answers[0]["answers"][0]["text"] == answer
    doc2 = nlp2.make_doc(text)
    doc2._.questions = [question]
    assert nlp2(doc2)._.answers == []


def test_qa_answers_attr(tiny_bert, tmp_path):
    install_extensions()
    # trained with the gold answers in ref._.ans (train_qa_nlp checks it learnt them)
    nlp = train_qa_nlp(tiny_bert, answers_attr="ans")
    pipe = nlp.get_pipe("qa")
    text, question, answer = QA_DATA[1]
    doc = nlp.make_doc(text)
    doc._.questions = [question]
    doc = nlp(doc)
    assert doc._.ans[0]["question"] == question and doc._.ans[0]["answers"][0]["text"] == answer
    assert doc._.answers is None
    assert RecordWriter.for_pipeline(nlp).record("1", doc)["answers"] == doc._.ans
    # the loss reads the gold answers from ref._.ans: gold only in ref._.answers is refused
    examples = qa_examples(nlp, answers_attr="answers")
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2408\]"):
        pipe.get_loss(examples, pipe.predict([eg.predicted for eg in examples]))
    examples = qa_examples(nlp, answers_attr="ans")
    loss, _ = pipe.get_loss(examples, pipe.predict([eg.predicted for eg in examples]))
    assert loss > 0

    nlp2 = _reload(nlp, tmp_path / "qa", doc_attrs=["ans"])
    assert nlp2.get_pipe("qa").cfg["answers_attr"] == "ans"
    doc2 = nlp2.make_doc(text)
    doc2._.questions = [question]
    doc2 = nlp2(doc2)
    assert doc2._.ans[0]["answers"][0]["text"] == answer
    assert doc2._.ans[0]["answers"][0]["score"] == pytest.approx(doc._.ans[0]["answers"][0]["score"], abs=1e-5)
    assert doc2._.answers is None


def test_qa_custom_attrs_through_annotate_and_visualize(tiny_bert, tmp_path):
    """`annotate --question` and `visualize --question` set the component's
    questions attribute and read its answers attribute."""
    from tiny_pipelines import make_qa_nlp
    from typer.testing import CliRunner
    from util import read_records

    from spacy_biobert.cli import app

    fix_random_seed(0)
    nlp = make_qa_nlp(tiny_bert, questions_attr="qs3", answers_attr="ans3")
    nlp.initialize()
    nlp.to_disk(tmp_path / "qa")
    text, question, _ = QA_DATA[0]
    src = tmp_path / "in.txt"
    src.write_text(text + "\n", encoding="utf8")
    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "qa"), str(src), str(tmp_path / "out.jsonl"),
                                      "--question", question])
    assert result.exit_code == 0, result.output
    (record,) = read_records(tmp_path / "out.jsonl")
    assert [r["question"] for r in record["answers"]] == [question]
    assert len(record["answers"][0]["answers"]) == 5  # top_k, no null answer
    out = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["visualize", str(tmp_path / "qa"), str(src), "-o", str(out), "-q", question])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf8")
    assert f"Q: {question}" in page and "No answers." not in page
