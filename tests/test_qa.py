"""biobert_qa on a tiny random BERT: answer schema, windows, empty inputs,
serialization round trips, training, init_model."""

import contextlib
import math
import pickle

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_biobert.qa.component import QuestionAnswerer, answer_spans, set_questions
from spacy_biobert.qa.decoding import _is_max_context
from spacy_biobert.qa.windows import Window, _gold_positions

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


def test_qa_answers_schema(tiny_bert):
    # null_answer off: every question gets its top_k answers whatever the
    # untrained weights prefer, so the schema and answer_spans are checked on
    # five real answers each, never on two empty lists
    fix_random_seed(0)
    nlp = make_qa_nlp(tiny_bert, null_answer=False)
    nlp.initialize()
    doc = nlp(_doc(nlp))
    _check_schema(doc, QUESTIONS)
    assert [len(r["answers"]) for r in doc._.answers] == [5, 5]
    for i, record in enumerate(doc._.answers):
        texts = [a["text"] for a in record["answers"]]
        assert len(set(texts)) == 5  # one answer per distinct text
        spans = answer_spans(doc, i)
        assert [s.text for s in spans] == texts
        assert [(s.start_char, s.end_char) for s in spans] == [(a["start_char"], a["end_char"]) for a in record["answers"]]
        assert answer_spans(doc, record) == spans


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
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2405\]"):
        qa_nlp(doc)


def test_qa_question_longer_than_window_is_an_error(qa_nlp):
    question = " ".join(["cancer"] * 40)
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2403\]"):
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
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2408\]"):
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
from spacy_biobert import set_questions, answer_spans
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


# Scores as BioBERT's run_qa.py computes them (write_predictions) ------------
# The expected values below are worked out by hand from run_squad.py's rules
# (top-n starts x top-n ends per window, valid spans only, sorted by start +
# end logit, one per final text, softmax over the n-best list), not by calling
# the code under test.

def _offsets(text):
    """Character offsets of the space-separated words of `text`."""
    out, pos = [], 0
    for word in text.split(" "):
        out.append((pos, pos + len(word)))
        pos += len(word) + 1
    return out


def _window(offsets, p_first, n_ctx):
    """[CLS] q [SEP] passage[p_first:p_first + n_ctx] [SEP]: the passage part
    starts at position 3."""
    length = 3 + n_ctx + 1
    return Window(list(range(length)), [0] * length, 3, p_first, n_ctx, offsets)


@contextlib.contextmanager
def _cfg(pipe, **cfg):
    saved = dict(pipe.cfg)
    pipe.cfg.update(cfg)
    try:
        yield pipe
    finally:
        pipe.cfg.clear()
        pipe.cfg.update(saved)


def _answers(pipe, text, windows_logits):
    doc = set_questions(spacy.blank("en").make_doc(text), ["q ?"])
    pipe.set_annotations([doc], [[windows_logits]])
    return [(a["text"], a["start_char"], a["end_char"], a["score"]) for a in doc._.answers[0]["answers"]]


def test_qa_nbest_softmax_by_hand(qa_nlp):
    """One window, n_best_size 4, max_answer_length 2. Top-4 starts are
    [CLS], the question, aa, bb (only aa, bb are in the passage); top-4 ends
    are [CLS], bb, cc, aa. Valid spans: aa-bb 3+2=5, aa 3+0=3, bb 1+2=3,
    bb-cc 1+1=2 (aa-cc is 3 wordpieces): softmax over these four only."""
    text = "aa bb cc dd"
    window = _window(_offsets(text), 0, 4)
    logits = numpy.array([
        # [CLS]  q    [SEP] aa   bb   cc   dd   [SEP]
        [6, 5, -10, 3, 1, 0, -10, -10],
        [6, -10, -10, 0, 2, 1, -10, -10],
    ], dtype="float32").T
    z = 1 + 2 * math.exp(-2) + math.exp(-3)
    pipe = qa_nlp.get_pipe("qa")
    with _cfg(pipe, n_best_size=4, max_answer_length=2, top_k=20, null_answer=False, probabilities="nbest"):
        got = _answers(pipe, text, [(window, logits)])
    assert [g[:3] for g in got] == [("aa bb", 0, 5), ("aa", 0, 2), ("bb", 3, 5), ("bb cc", 3, 8)]
    assert [g[3] for g in got] == pytest.approx([1 / z, math.exp(-2) / z, math.exp(-2) / z, math.exp(-3) / z])
    assert sum(g[3] for g in got) == pytest.approx(1.0)
    # n_best_size 2: the top-2 starts are [CLS] and the question, so no span
    # is left (run_squad.py ranks every position before it drops invalid ones)
    with _cfg(pipe, n_best_size=2, max_answer_length=2, top_k=20, null_answer=False, probabilities="nbest"):
        assert _answers(pipe, text, [(window, logits)]) == []
    # top_k cuts the list, the probabilities stay those of the n-best list
    with _cfg(pipe, n_best_size=4, max_answer_length=2, top_k=2, null_answer=False, probabilities="nbest"):
        assert [g[3] for g in _answers(pipe, text, [(window, logits)])] == pytest.approx([1 / z, math.exp(-2) / z])
    # "product" (the earlier scoring): start x end probability, softmaxes over
    # [CLS] + passage, the 4 best products, not renormalised
    zs = math.exp(6) + math.exp(3) + math.exp(1) + 1 + math.exp(-10)
    ze = math.exp(6) + 1 + math.exp(2) + math.exp(1) + math.exp(-10)
    with _cfg(pipe, n_best_size=4, max_answer_length=2, top_k=20, null_answer=False, probabilities="product"):
        got = _answers(pipe, text, [(window, logits)])
    assert [g[:3] for g in got] == [("aa bb", 0, 5), ("aa", 0, 2), ("bb", 3, 5), ("bb cc", 3, 8)]
    assert [g[3] for g in got] == pytest.approx([math.exp(e) / (zs * ze) for e in (5, 3, 3, 2)])


def test_qa_nbest_one_answer_per_text(qa_nlp):
    """'aa' at characters 0-2 and 6-8: the second (lower) is dropped, in both
    scorings; the softmax runs over aa (2+2) and bb (0+0) only, not over the
    duplicate nor [CLS]."""
    text = "aa bb aa"
    window = _window(_offsets(text), 0, 3)
    logits = numpy.array([
        [0, -20, -20, 2, 0, 1, -20],
        [0, -20, -20, 2, 0, 1, -20],
    ], dtype="float32").T
    pipe = qa_nlp.get_pipe("qa")
    with _cfg(pipe, n_best_size=20, max_answer_length=1, top_k=20, null_answer=False, probabilities="nbest"):
        got = _answers(pipe, text, [(window, logits)])
    assert got == [
        ("aa", 0, 2, pytest.approx(1 / (1 + math.exp(-4)))),
        ("bb", 3, 5, pytest.approx(math.exp(-4) / (1 + math.exp(-4)))),
    ]
    with _cfg(pipe, n_best_size=20, max_answer_length=1, top_k=20, null_answer=False, probabilities="product"):
        got = _answers(pipe, text, [(window, logits)])
    assert [g[:3] for g in got] == [("aa", 0, 2), ("bb", 3, 5)]
    # the duplicate kept is the one with the higher start + end logit: aa at 6
    # (2 + 2) beats aa at 0 (3 - 1), though its start logit is lower
    logits[3], logits[5] = (3, -1), (2, 2)
    with _cfg(pipe, n_best_size=20, max_answer_length=1, top_k=20, null_answer=False, probabilities="nbest"):
        got = _answers(pipe, text, [(window, logits)])
    assert got == [
        ("aa", 6, 8, pytest.approx(1 / (1 + math.exp(-4)))),
        ("bb", 3, 5, pytest.approx(math.exp(-4) / (1 + math.exp(-4)))),
    ]


def test_qa_nbest_max_context():
    """run_squad.py's _check_is_max_context, on its own docstring example:
    'bought' (word 7) is in span B (words 3-7) and C (words 6-10); C gives it
    more context."""
    spans = [(0, 5), (3, 5), (6, 5)]
    assert _is_max_context(spans, 2, 7) and not _is_max_context(spans, 1, 7)
    assert _is_max_context(spans, 0, 0)
    # equal context: the first window wins
    assert _is_max_context([(0, 3), (2, 3)], 0, 2) and not _is_max_context([(0, 3), (2, 3)], 1, 2)
    assert _is_max_context([(0, 4), (2, 4)], 0, 2) and not _is_max_context([(0, 4), (2, 4)], 1, 2)


def test_qa_nbest_start_must_have_max_context(qa_nlp):
    """Passage t0..t5 in two windows (t0-t3, t2-t5). t2's max-context window
    is the first (min(2, 1) vs min(0, 3)), t3's the second. A start at t2 in
    the second window is ignored however high its logits; one at t3 is kept."""
    text = "t0 t1 t2 t3 t4 t5"
    offsets = _offsets(text)
    w0, w1 = _window(offsets, 0, 4), _window(offsets, 2, 4)
    l0 = numpy.full((8, 2), -10.0, dtype="float32")
    l0[4] = 1.0  # t1: start and end
    l1 = numpy.full((8, 2), -10.0, dtype="float32")
    l1[3, 0], l1[4, 1] = 10.0, 10.0  # t2 -> t3 in the second window
    pipe = qa_nlp.get_pipe("qa")
    with _cfg(pipe, n_best_size=1, top_k=20, null_answer=False, probabilities="nbest"):
        assert _answers(pipe, text, [(w0, l0), (w1, l1)]) == [("t1", 3, 5, 1.0)]
        l1[3, 0], l1[4, 0] = -10.0, 10.0  # t3 -> t3 in the second window
        assert _answers(pipe, text, [(w0, l0), (w1, l1)]) == [("t3", 9, 11, 1.0)]


def test_qa_probabilities_setting(tiny_bert, qa_nlp, tmp_path):
    """The factory default is "nbest"; a pipeline saved without the setting
    (before it existed) loads with it; an unknown value is an error."""
    assert qa_nlp.get_pipe("qa").cfg["probabilities"] == "nbest"
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2404\]"):
        make_qa_nlp(tiny_bert, probabilities="softmax")
    qa_nlp.to_disk(tmp_path / "old")
    config = (tmp_path / "old" / "config.cfg").read_text(encoding="utf8")
    assert 'probabilities = "nbest"\n' in config
    (tmp_path / "old" / "config.cfg").write_text(config.replace('probabilities = "nbest"\n', ""), encoding="utf8")
    cfg_path = tmp_path / "old" / "qa" / "cfg"
    import json

    cfg = json.loads(cfg_path.read_text(encoding="utf8"))
    del cfg["probabilities"]
    cfg_path.write_text(json.dumps(cfg), encoding="utf8")
    # pipelines saved before the setting existed had no checksums.sha256 either
    (tmp_path / "old" / "checksums.sha256").unlink()
    nlp = spacy.load(tmp_path / "old")
    assert nlp.get_pipe("qa").cfg["probabilities"] == "nbest"
    doc = nlp(_doc(nlp))
    assert doc._.answers == qa_nlp(_doc(qa_nlp))._.answers
    product = make_qa_nlp(tiny_bert, probabilities="product")
    assert product.get_pipe("qa").cfg["probabilities"] == "product"
