"""biobert_qa on a tiny random BERT: answer schema, windows, empty inputs,
serialization round trips, training, init_model."""

import pickle

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_biobert.pipeline.qa import (
    QuestionAnswerer,
    _gold_positions,
    answer_spans,
    set_questions,
)

PASSAGE = "the apc gene is associated with familial adenomatous polyposis and cancer risk in patients ."
QUESTIONS = ["what is the gene ?", "which disease ?"]


def make_qa_nlp(tiny_bert, **cfg):
    nlp = spacy.blank("en")
    config = {
        "model": {"name": str(tiny_bert), "tokenizer_config": {"name": str(tiny_bert)}, "max_length": 32},
        "doc_stride": 8,
    }
    config.update(cfg)
    nlp.add_pipe("biobert_qa", name="qa", config=config)
    return nlp


@pytest.fixture(scope="module")
def qa_nlp(tiny_bert):
    fix_random_seed(0)
    nlp = make_qa_nlp(tiny_bert)
    nlp.initialize()
    return nlp


def _doc(nlp, text=PASSAGE, questions=QUESTIONS):
    return set_questions(nlp.make_doc(text), questions)


def _check_schema(doc, questions):
    assert isinstance(doc._.answers, list)
    assert [r["question"] for r in doc._.answers] == list(questions)
    for record in doc._.answers:
        assert set(record) == {"question", "answers"}
        assert len(record["answers"]) <= 5
        scores = [a["score"] for a in record["answers"]]
        assert scores == sorted(scores, reverse=True)
        for a in record["answers"]:
            assert set(a) == {"text", "start_char", "end_char", "score"}
            assert type(a["start_char"]) is int and type(a["end_char"]) is int
            assert type(a["score"]) is float and 0.0 < a["score"] <= 1.0
            assert a["text"] == doc.text[a["start_char"]:a["end_char"]]


def test_qa_answers_schema(qa_nlp):
    doc = qa_nlp(_doc(qa_nlp))
    _check_schema(doc, QUESTIONS)
    spans = answer_spans(doc, 0)
    assert [s.text for s in spans] == [a["text"] for a in doc._.answers[0]["answers"]]
    assert answer_spans(doc, doc._.answers[1]) == answer_spans(doc, 1)


def test_qa_top_k_and_no_null(tiny_bert):
    nlp = make_qa_nlp(tiny_bert, top_k=3, null_answer=False)
    nlp.initialize()
    doc = nlp(_doc(nlp))
    _check_schema(doc, QUESTIONS)
    assert all(len(r["answers"]) == 3 for r in doc._.answers)


def test_qa_max_answer_length(tiny_bert):
    nlp = make_qa_nlp(tiny_bert, max_answer_length=2, null_answer=False, top_k=20)
    nlp.initialize()
    doc = nlp(_doc(nlp))
    tokenizer = nlp.get_pipe("qa")._tokenizer()
    for a in doc._.answers[0]["answers"]:
        assert len(tokenizer(a["text"], add_special_tokens=False)["input_ids"]) <= 2


def test_qa_empty_doc_and_no_questions(qa_nlp):
    doc = qa_nlp(_doc(qa_nlp, "", ["what ?"]))
    assert doc._.answers == [{"question": "what ?", "answers": []}]
    assert qa_nlp("the apc gene .")._.answers == []
    assert qa_nlp(_doc(qa_nlp, PASSAGE, []))._.answers == []
    docs = list(qa_nlp.pipe([qa_nlp.make_doc(""), _doc(qa_nlp, "", [])]))
    assert [d._.answers for d in docs] == [[], []]


def test_qa_questions_must_be_strings(qa_nlp):
    doc = qa_nlp.make_doc(PASSAGE)
    doc._.questions = "what ?"
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E104\]"):
        qa_nlp(doc)


def test_qa_question_longer_than_window_is_an_error(qa_nlp):
    question = " ".join(["cancer"] * 40)
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E102\]"):
        qa_nlp(_doc(qa_nlp, PASSAGE, [question]))


def test_qa_as_tuples_context(qa_nlp):
    out = list(qa_nlp.pipe([(PASSAGE, {"questions": QUESTIONS}), ("the gene .", {"x": 1})], as_tuples=True))
    (doc, ctx), (doc2, _) = out
    assert ctx == {"questions": QUESTIONS}
    _check_schema(doc, QUESTIONS)
    assert doc._.questions == QUESTIONS
    assert doc2._.answers == []


def test_qa_long_passage_windows(qa_nlp):
    """5,000 words: many windows, every one within the limit, all offsets valid."""
    words = ("patients with breast cancer were observed in this study . " * 500).split()[:5000]
    text = " ".join(words)
    pipe = qa_nlp.get_pipe("qa")
    windows = pipe._windows(text, ["which disease ?"])[0]
    assert len(windows) > 100
    assert all(len(w) <= 32 for w in windows)
    # the windows cover the passage: consecutive starts doc_stride apart, last reaches the end
    assert [w.p_first for w in windows[:3]] == [0, 8, 16]
    assert windows[-1].p_first + windows[-1].n_ctx == len(windows[0].offsets)
    doc = qa_nlp(_doc(qa_nlp, text, ["which disease ?"]))
    _check_schema(doc, ["which disease ?"])


def test_qa_answer_in_last_window(qa_nlp):
    """An answer at the end of a long passage: only the last windows hold it
    (training target), and logits pointing at it there give it as the answer."""
    text = " ".join(["the study of patients ."] * 60) + " the answer is apc gene"
    start = text.index("apc gene")
    gold = (start, start + len("apc gene"))
    pipe = qa_nlp.get_pipe("qa")
    windows = pipe._windows(text, ["which gene ?"])[0]
    positions = [_gold_positions(w, gold) for w in windows]
    assert positions[0] == (0, 0)
    assert positions[-1] != (0, 0)
    last = windows[-1]
    s, e = positions[-1]
    assert last.input_ids[s:e + 1] == pipe._tokenizer()("apc gene", add_special_tokens=False)["input_ids"]
    scores = []
    for w, (ps, pe) in zip(windows, positions):
        logits = numpy.full((len(w), 2), -5.0, dtype="float32")
        logits[0] = 5.0 if (ps, pe) == (0, 0) else -5.0
        if (ps, pe) != (0, 0):
            logits[ps, 0] = 10.0
            logits[pe, 1] = 10.0
        scores.append((w, logits))
    doc = set_questions(qa_nlp.make_doc(text), ["which gene ?"])
    pipe.set_annotations([doc], [[scores]])
    top = doc._.answers[0]["answers"][0]
    assert (top["text"], top["start_char"], top["end_char"]) == ("apc gene", *gold)
    assert top["score"] > 0.99


def test_qa_null_answer(qa_nlp):
    """[CLS] beating every span in every window -> no answer (empty list)."""
    pipe = qa_nlp.get_pipe("qa")
    windows = pipe._windows(PASSAGE, ["what ?"])[0]
    scores = []
    for w in windows:
        logits = numpy.zeros((len(w), 2), dtype="float32")
        logits[0] = 8.0
        scores.append((w, logits))
    doc = set_questions(qa_nlp.make_doc(PASSAGE), ["what ?"])
    pipe.set_annotations([doc], [[scores]])
    assert doc._.answers == [{"question": "what ?", "answers": []}]
    pipe.cfg["null_answer"] = False
    try:
        pipe.set_annotations([doc], [[scores]])
    finally:
        pipe.cfg["null_answer"] = True
    assert len(doc._.answers[0]["answers"]) == 5


def test_qa_round_trips(qa_nlp):
    doc = qa_nlp(_doc(qa_nlp))
    expected = doc._.answers
    db = DocBin(store_user_data=True)
    db.add(doc)
    [back] = list(DocBin().from_bytes(db.to_bytes()).get_docs(qa_nlp.vocab))
    assert [dict(r, answers=list(r["answers"])) for r in back._.answers] == expected
    again = spacy.tokens.Doc(qa_nlp.vocab).from_bytes(doc.to_bytes())
    assert list(again._.answers) == expected
    assert pickle.loads(pickle.dumps(doc))._.answers == expected


def test_qa_n_process_2(qa_nlp):
    texts = [(PASSAGE, {"questions": QUESTIONS}), ("the apc gene .", {"questions": ["gene ?"]})]
    single = [d._.answers for d, _ in qa_nlp.pipe(texts, as_tuples=True)]
    multi = [d._.answers for d, _ in qa_nlp.pipe(texts, as_tuples=True, n_process=2)]
    assert multi == single


def test_qa_to_disk_from_disk(qa_nlp, tmp_path):
    doc = qa_nlp(_doc(qa_nlp))
    qa_nlp.to_disk(tmp_path / "qa")
    nlp2 = spacy.load(tmp_path / "qa")
    assert isinstance(nlp2.get_pipe("qa"), QuestionAnswerer)
    assert nlp2.get_pipe("qa").cfg == qa_nlp.get_pipe("qa").cfg
    doc2 = nlp2(_doc(nlp2))
    for r1, r2 in zip(doc._.answers, doc2._.answers):
        assert [(a["start_char"], a["end_char"]) for a in r1["answers"]] == [(a["start_char"], a["end_char"]) for a in r2["answers"]]
        assert numpy.allclose([a["score"] for a in r1["answers"]], [a["score"] for a in r2["answers"]], atol=1e-5)


def _toy_examples(nlp):
    examples = []
    for text, question, answer in [
        (PASSAGE, "what is the gene ?", "apc gene"),
        ("women with breast cancer were observed in this study .", "which disease ?", "breast cancer"),
    ]:
        start = text.index(answer)
        ref = set_questions(nlp.make_doc(text), [question])
        ref._.answers = [{"question": question, "answers": [{"text": answer, "start_char": start, "end_char": start + len(answer)}]}]
        examples.append(Example(set_questions(nlp.make_doc(text), [question]), ref))
    return examples


def test_qa_update_learns_the_span(tiny_bert):
    fix_random_seed(0)
    nlp = make_qa_nlp(tiny_bert, null_answer=False)
    examples = _toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.005
    pipe = nlp.get_pipe("qa")
    first = None
    for _ in range(40):
        losses = nlp.update(examples, sgd=optimizer, drop=0.0)
        first = losses["qa"] if first is None else first
    assert losses["qa"] < first / 4
    docs = [nlp(set_questions(nlp.make_doc(eg.reference.text), eg.reference._.questions)) for eg in examples]
    assert [d._.answers[0]["answers"][0]["text"] for d in docs] == ["apc gene", "breast cancer"]
    scores = pipe.predict([eg.predicted for eg in examples])
    loss, grads = pipe.get_loss(examples, scores)
    assert 0 <= loss < first / 4 and len(grads) == 2
    evaluated = nlp.evaluate(examples)
    assert evaluated["qa_exact"] == 1.0 and evaluated["qa_f1"] == 1.0


def test_qa_gold_records_must_match_questions(qa_nlp):
    ref = set_questions(qa_nlp.make_doc(PASSAGE), QUESTIONS)
    ref._.answers = []
    eg = Example(qa_nlp.make_doc(PASSAGE), ref)
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E107\]"):
        qa_nlp.get_pipe("qa").update([eg])


def test_qa_initialize_from_init_model(qa_nlp, tiny_bert, tmp_path):
    qa_nlp.to_disk(tmp_path / "stage1")
    nlp = make_qa_nlp(tiny_bert)
    nlp.config["initialize"]["components"]["qa"] = {"init_model": str(tmp_path / "stage1")}
    nlp.initialize()
    a = nlp(_doc(nlp))._.answers
    b = qa_nlp(_doc(qa_nlp))._.answers
    assert a == b


def test_qa_packaged_and_loaded_by_name(qa_nlp, tmp_path):
    """`spacy package` of a QA pipeline, installed, `spacy.load("en_...")` in a
    new process: questions set on a doc (and per call, as tuples) give
    doc._.answers; a 5,000-word passage is answered over all its windows; an
    empty question list gives no answers."""
    from util import package_and_run

    qa_nlp.to_disk(tmp_path / "qa")
    code = f"""
import json, spacy
from spacy_biobert.pipeline.qa import set_questions, answer_spans
nlp = spacy.load("en_biobert_qa_test")
passage = {PASSAGE!r}
doc = nlp(set_questions(nlp.make_doc(passage), {QUESTIONS!r}))
long_text = " ".join(("patients with breast cancer were observed in this study . " * 500).split()[:5000])
long_doc = nlp(set_questions(nlp.make_doc(long_text), ["which disease ?"]))
empty = nlp(set_questions(nlp.make_doc(passage), []))
(tup, ctx), = nlp.pipe([(passage, {{"questions": ["which disease ?"]}})], as_tuples=True)
spans = [answer_spans(doc, i) for i in range(len(doc._.answers))]
print(json.dumps({{
    "pipe": nlp.pipe_names,
    "questions": [r["question"] for r in doc._.answers],
    "n_answers": [len(r["answers"]) for r in doc._.answers],
    "texts_ok": all(a["text"] == passage[a["start_char"]:a["end_char"]] for r in doc._.answers for a in r["answers"]),
    "long_words": len(long_text.split()), "long_answers": len(long_doc._.answers[0]["answers"]),
    "long_ok": all(a["text"] == long_text[a["start_char"]:a["end_char"]] for a in long_doc._.answers[0]["answers"]),
    "empty": empty._.answers, "tuple_q": [r["question"] for r in tup._.answers],
    "span_texts_ok": all(a["text"].strip() in s.text for q, r in zip(spans, doc._.answers) for s, a in zip(q, r["answers"])),
}}))
"""
    result = package_and_run(tmp_path / "qa", "biobert_qa_test", tmp_path, code)
    assert result["pipe"] == ["qa"]
    assert result["questions"] == QUESTIONS
    assert all(0 < n <= 5 for n in result["n_answers"]) and result["texts_ok"]
    assert result["long_words"] == 5000 and 0 < result["long_answers"] <= 5 and result["long_ok"]
    assert result["empty"] == []
    assert result["tuple_q"] == ["which disease ?"]
    assert result["span_texts_ok"]
