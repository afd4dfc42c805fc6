"""SQuAD-format reader (answer re-location, drops, errors), the BioASQ factoid
metric on hand-made cases, and evaluate-qa on a tiny test folder."""

import json
import math

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_biobert.qa.bioasq import (
    bioasq_factoid_scores,
    golden_synonyms,
    pool_bioasq_answers,
)
from spacy_biobert.qa.scorer import qa_score, squad_exact_f1
from spacy_biobert.qa.squad import create_squad_corpus, locate_answer, read_squad

CONTEXT = "Bazex syndrome (acrokeratosis paraneoplastica) is rare. BRCA1 is a gene."


def _squad(qas_by_context):
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": c, "qas": qas} for c, qas in qas_by_context
    ]}]}


def _qa(qid, question, text, start):
    return {"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}]}


@pytest.fixture
def squad_file(tmp_path):
    path = tmp_path / "train.json"
    data = _squad([
        (CONTEXT, [
            _qa("q1", "Synonym of acrokeratosis?", "Bazex syndrome", 0),  # exact
            _qa("q2", "Which gene?", "brca1", 56),  # case mismatch, right offset
            _qa("q3", "Other name?", "Acrokeratosis paraneoplastica", 3),  # case + offset
            _qa("q4", "Missing?", "not in the passage", 0),  # dropped
            _qa("q5", "Offset off?", "gene", 0),  # same case, wrong offset
        ]),
        ("Second passage about apc.", [_qa("q6", "What?", "apc", 21)]),
    ])
    path.write_text(json.dumps(data), encoding="utf8")
    return path


def test_qa_data_locate_answer():
    assert locate_answer(CONTEXT, "Bazex syndrome", 0) == (0, "exact")
    assert locate_answer(CONTEXT, "brca1", 56) == (56, "case")
    assert locate_answer(CONTEXT, "gene", 0) == (CONTEXT.index("gene"), "offset")
    assert locate_answer(CONTEXT, "absent", 0) == (None, "missing")
    assert locate_answer(CONTEXT, "", 0) == (None, "missing")
    # the occurrence nearest the given offset wins
    assert locate_answer("a x b x c x", "X", 9) == (10, "case")


def test_qa_data_read_counts_and_relocation(squad_file):
    passages, stats = read_squad(squad_file)
    assert (stats.n_passages, stats.n_questions, stats.n_answers) == (2, 6, 6)
    assert stats.n_relocated_case == 2 and stats.n_relocated_offset == 1
    assert stats.n_dropped_answers == 1 and stats.n_dropped_questions == 1
    assert stats.n_kept_questions == 5 and stats.dropped_ids == ["q4"]
    assert "dropped 1 answers" in stats.summary()
    first = passages[0]
    assert first.ids == ["q1", "q2", "q3", "q5"]
    for answers in first.answers:
        for a in answers:
            assert first.context[a["start_char"]:a["end_char"]] == a["text"]
    assert first.answers[1][0]["text"] == "BRCA1"
    assert first.answers[2][0]["text"] == "acrokeratosis paraneoplastica"
    _, kept = read_squad(squad_file, drop_unanswerable=False)
    assert kept.n_kept_questions == 6 and kept.n_dropped_questions == 0


def test_qa_data_corpus_examples(squad_file):
    nlp = spacy.blank("en")
    examples = list(create_squad_corpus(squad_file)(nlp))
    assert len(examples) == 2
    eg = examples[0]
    assert eg.predicted.text == eg.reference.text == CONTEXT
    assert eg.predicted._.questions == eg.reference._.questions
    assert len(eg.reference._.answers) == 4
    record = eg.reference._.answers[1]
    assert record["question"] == "Which gene?"
    assert record["answers"] == [{"text": "BRCA1", "start_char": 56, "end_char": 61}]
    assert eg.predicted._.answers is None
    assert len(list(create_squad_corpus(squad_file, limit=1)(nlp))) == 1


# fmt: off
@pytest.mark.parametrize("content,match", [
    ('{"data": [', "not valid JSON"),
    ('[1, 2]', "at the top level"),
    ('{"data": [{"paragraphs": [{"qas": []}]}]}', r"data\[0\]\.paragraphs\[0\]: no 'context'"),
    ('{"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "a1", "answers": []}]}]}]}', r"qas\[0\] \(id 'a1'\): no 'question'"),
    ('{"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "a2", "question": "q", "answers": [{"text": "x"}]}]}]}]}', "answer_start"),
])
# fmt: on
def test_qa_data_malformed_file_names_file_and_entry(tmp_path, content, match):
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf8")
    with pytest.raises(ValueError, match=match) as exc:
        read_squad(path)
    assert "broken.json" in str(exc.value)


def test_qa_data_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2001\]"):
        create_squad_corpus(tmp_path / "nope.json")


def test_qa_data_real_bioasq_and_squad(shared_data):
    train = shared_data / "qa" / "bioasq" / "train"
    for year, n_qas in (("4b", 1775), ("5b", 2481), ("6b", 3576)):
        _, stats = read_squad(train / f"BioASQ-train-factoid-{year}.reconstructed.json")
        assert stats.n_questions == n_qas
        # about 3% of the offsets are off (data README), mostly letter case
        assert 0 < stats.n_relocated_case + stats.n_dropped_answers < 0.05 * n_qas
        assert stats.n_kept_questions == n_qas - stats.n_dropped_questions
    examples = list(create_squad_corpus(shared_data / "qa" / "squad" / "dev-v1.1.json", limit=3)(spacy.blank("en")))
    assert len(examples) == 3 and all(eg.reference._.questions for eg in examples)


# BioASQ metric ----------------------------------------------------------------

def test_qa_pool_bioasq_answers():
    """BioBERT's transform_nbset2bioasqform.py by hand: candidates taken by
    probability, "" and >100-character answers dropped (a whitespace-only
    answer is not "" and stays), lower-cased duplicates summed with the most
    probable spelling, top 5."""
    candidates = [
        ("MARS", 0.4), ("Venus", 0.5), ("mars", 0.3), ("", 0.9), ("  ", 0.05),
        ("x" * 101, 0.95), ("x" * 100, 0.01), ("A", 0.1), ("B", 0.1), ("C", 0.02),
    ]
    pooled = pool_bioasq_answers(candidates)
    assert [t for t, _ in pooled] == ["MARS", "Venus", "A", "B", "  "]
    assert [p for _, p in pooled] == pytest.approx([0.7, 0.5, 0.1, 0.1, 0.05])
    # the spelling of the most probable member is kept
    assert pool_bioasq_answers([("mars", 0.2), ("Mars", 0.5)]) == [("Mars", pytest.approx(0.7))]
    # equal sums: the order in which the merged answers come when the
    # candidates are sorted by probability ("a" at 0.5 before "b" at 0.25),
    # not the order of the input
    assert pool_bioasq_answers([("b", 0.25), ("a", 0.5), ("B", 0.25)]) == [("a", 0.5), ("b", 0.5)]
    # not stripped: " x" and "x" are two answers
    assert pool_bioasq_answers([(" x", 0.25), ("x", 0.5)]) == [("x", 0.5), (" x", 0.25)]
    assert pool_bioasq_answers([]) == []


def test_qa_golden_synonyms():
    assert golden_synonyms([["MARS", "Mars rover"]]) == ["MARS", "Mars rover"]
    assert golden_synonyms(["a", "b"]) == ["a", "b"]
    assert golden_synonyms("x") == ["x"]
    assert golden_synonyms([["a"], ["b", "c"]]) == ["a", "b", "c"]


def test_qa_bioasq_factoid_scores_hand_made():
    golden = {"q1": ["MARS"], "q2": ["TP53", "p53"], "q3": ["insulin"], "q4": ["x"]}
    predictions = {
        "q1": ["mars", "venus"],  # rank 1 (case-insensitive)
        "q2": ["brca1", "a", "P53"],  # rank 3
        "q3": ["a", "b", "c", "d", "e", "insulin"],  # rank 6: not counted
        # q4 unanswered: wrong
        "q9": ["ignored"],
    }
    scores = bioasq_factoid_scores(predictions, golden)
    assert scores["n_questions"] == 4 and scores["n_answered"] == 3
    assert scores["strict"] == pytest.approx(1 / 4)
    assert scores["lenient"] == pytest.approx(2 / 4)
    assert scores["mrr"] == pytest.approx((1 + 1 / 3) / 4)
    assert bioasq_factoid_scores({}, {})["strict"] is None


def test_qa_bioasq_matching_lower_case_only():
    """The official evaluator lower-cases and compares with String.equals:
    no stripping on either side."""
    golden = {"q1": [" fewer than 100"], "q2": ["fewer than 100"], "q3": ["tp53"], "q4": ["p53 "]}
    predictions = {
        "q1": ["fewer than 100"],  # gold has a leading space: never credited
        "q2": ["Fewer Than 100 "],  # trailing space in the answer: wrong
        "q3": ["a", "TP53"],  # letter case only: rank 2
        "q4": ["x", "P53 "],  # identical after lower-casing, space included: rank 2
    }
    scores = bioasq_factoid_scores(predictions, golden)
    assert scores["strict"] == 0.0
    assert scores["lenient"] == pytest.approx(2 / 4)
    assert scores["mrr"] == pytest.approx((1 / 2 + 1 / 2) / 4)


def test_qa_bioasq_leading_space_gold_in_4b(shared_data):
    """4b golden batch 4, question 57090c33cf1c325851000013: the gold answer
    is ' fewer than 100' (leading space), which an extracted span never
    equals; the reader keeps it as it is."""
    from spacy_biobert.apps.evaluate_qa import load_factoid_golden

    qid = "57090c33cf1c325851000013"
    golden = load_factoid_golden(shared_data / "qa" / "bioasq" / "test" / "4B4_golden.json")
    assert golden[qid] == [" fewer than 100"]
    scores = bioasq_factoid_scores({qid: ["fewer than 100", "Fewer than 100"]}, {qid: golden[qid]})
    assert (scores["strict"], scores["lenient"], scores["mrr"]) == (0.0, 0.0, 0.0)


def test_qa_squad_exact_f1_and_qa_score():
    assert squad_exact_f1("The APC gene", ["apc gene"]) == (1.0, 1.0)
    em, f1 = squad_exact_f1("apc", ["apc gene"])
    assert em == 0.0 and f1 == pytest.approx(2 / 3)
    assert squad_exact_f1("", []) == (1.0, 1.0)
    nlp = spacy.blank("en")
    from spacy_biobert.qa.component import set_questions

    ref = set_questions(nlp.make_doc("the apc gene ."), ["q1", "q2"])
    ref._.answers = [
        {"question": "q1", "answers": [{"text": "apc gene", "start_char": 4, "end_char": 12}]},
        {"question": "q2", "answers": [{"text": "apc", "start_char": 4, "end_char": 7}]},
    ]
    pred = set_questions(nlp.make_doc("the apc gene ."), ["q1", "q2"])
    pred._.answers = [
        {"question": "q1", "answers": [{"text": "apc gene", "start_char": 4, "end_char": 12, "score": 0.9}]},
        {"question": "q2", "answers": []},
    ]
    scores = qa_score([Example(pred, ref)])
    assert scores == {"qa_exact": 0.5, "qa_f1": 0.5}


# evaluate-qa ----------------------------------------------------------------

def _write_bioasq_dir(path):
    path.mkdir()
    test = _squad([
        ("The apc gene is associated with polyposis.", [{"id": "aaa_001", "question": "Which gene?"}]),
        ("Mutations of the apc gene.", [{"id": "aaa_002", "question": "Which gene?"}]),
        ("Breast cancer risk.", [{"id": "bbb_001", "question": "Which disease?"}]),
    ])
    (path / "BioASQ-test-factoid-6b-1.json").write_text(json.dumps(test), encoding="utf8")
    golden = {"questions": [
        {"id": "aaa", "type": "factoid", "exact_answer": [["APC", "apc gene"]]},
        {"id": "bbb", "type": "factoid", "exact_answer": [["breast cancer"]]},
        {"id": "ccc", "type": "factoid", "exact_answer": [["never asked"]]},
        {"id": "ddd", "type": "yesno", "exact_answer": "yes"},
    ]}
    (path / "6B1_golden.json").write_text(json.dumps(golden), encoding="utf8")
    (path / "BioASQ-test-factoid-6b-2.json").write_text(json.dumps(test), encoding="utf8")  # no golden: skipped


def test_qa_evaluate_bioasq_cli(tiny_bert, tmp_path):
    from typer.testing import CliRunner

    from spacy_biobert.apps.evaluate_qa import find_bioasq_batches
    from spacy_biobert.cli import app

    test_dir = tmp_path / "bioasq"
    _write_bioasq_dir(test_dir)
    assert [(y, b) for y, b, _, _ in find_bioasq_batches(test_dir)] == [("6b", 1)]
    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_qa", name="qa", config={
        "model": {"name": str(tiny_bert), "tokenizer_config": {"name": str(tiny_bert)}, "max_length": 32},
    })
    nlp.initialize()
    nlp.to_disk(tmp_path / "model")
    out, md = tmp_path / "m.json", tmp_path / "m.md"
    result = CliRunner().invoke(app, [
        "evaluate-qa", str(tmp_path / "model"), str(test_dir), "--output", str(out), "--markdown", str(md),
        "--probabilities", "nbest,product",
    ])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert metrics["probabilities"] == "nbest"
    assert set(metrics["by_probabilities"]) == {"nbest", "product"}
    assert metrics["per_batch"] == metrics["by_probabilities"]["nbest"]["per_batch"]
    assert "### QA: BioASQ factoid (product)" in md.read_text()
    bad = CliRunner().invoke(app, ["evaluate-qa", str(tmp_path / "model"), str(test_dir), "--probabilities", "softmax"])
    assert bad.exit_code != 0 and "(spacy-biobert) [E2404]" in str(bad.exception)
    [batch] = metrics["per_batch"]
    assert batch["n_questions"] == 3 and batch["n_answered"] == 2 and batch["n_snippets"] == 3
    # the batch's scores are those of its pooled predictions against the golden file
    predictions = metrics["predictions"]
    assert sorted(predictions) == ["6b-1:aaa", "6b-1:bbb"]
    assert all(1 <= len(p) <= 5 for p in predictions.values())
    golden = {"aaa": ["APC", "apc gene"], "bbb": ["breast cancer"], "ccc": ["never asked"]}
    rescored = bioasq_factoid_scores({k.split(":")[1]: [t for t, _ in p] for k, p in predictions.items()}, golden)
    assert {k: batch[k] for k in ("strict", "lenient", "mrr")} == {k: rescored[k] for k in ("strict", "lenient", "mrr")}
    assert metrics["per_year"]["6b"]["paper_biobert"]["mrr"] == 48.43
    assert md.read_text().startswith("### QA: BioASQ factoid")
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2610\]"):
        find_bioasq_batches(tmp_path)


def test_qa_evaluate_bioasq_restores_component_settings(tiny_bert, tmp_path):
    """evaluate_bioasq sets top_k (n_best) and null_answer on the component it
    runs, and puts the component's own settings back afterwards, also when it fails."""
    from spacy_biobert.apps.evaluate_qa import evaluate_bioasq

    test_dir = tmp_path / "bioasq"
    _write_bioasq_dir(test_dir)
    nlp = spacy.blank("en")
    qa = nlp.add_pipe("biobert_qa", name="qa", config={
        "model": {"name": str(tiny_bert), "tokenizer_config": {"name": str(tiny_bert)}, "max_length": 32},
    })
    nlp.initialize()
    before = dict(qa.cfg)
    assert (before["top_k"], before["null_answer"]) == (5, True)
    seen = []
    real_decode = qa._decode

    def spy(*args, **kwargs):
        seen.append((qa.cfg["top_k"], qa.cfg["n_best_size"], qa.cfg["null_answer"]))
        return real_decode(*args, **kwargs)

    qa._decode = spy
    results = evaluate_bioasq(nlp, test_dir, n_best=20, null_answer=False, show_progress=False)
    assert results["per_batch"][0]["n_snippets"] == 3
    assert len(seen) == 3 and set(seen) == {(20, 20, False)}  # the run used the evaluation's settings
    assert qa.cfg == before  # and the component has its own back
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2610\]"):
        evaluate_bioasq(nlp, tmp_path / "empty", n_best=7, show_progress=False)
    assert qa.cfg == before


def _synthetic_scores(logits_by_word, cls):
    """A predict() stand-in: one window per doc, [CLS] q [SEP] words [SEP],
    logits from a table (start, end) per word; the question and [SEP] -20."""
    from spacy_biobert.qa.windows import Window

    def predict(docs):
        out = []
        for doc in docs:
            words = doc.text.split(" ")
            offsets, pos = [], 0
            for w in words:
                offsets.append((pos, pos + len(w)))
                pos += len(w) + 1
            length = 3 + len(words) + 1
            window = Window(list(range(length)), [0] * length, 3, 0, len(words), offsets)
            logits = numpy.full((length, 2), -20.0)
            logits[0] = cls[doc.text]
            for i, w in enumerate(words):
                logits[3 + i] = logits_by_word[w]
            out.append([[(window, logits)]])
        return out

    return predict


def test_qa_bioasq_nbest_and_product_rank_differently(tiny_bert, tmp_path, monkeypatch):
    """One question, two snippets, gold 'XX'. Snippet 1 'xx zz': [CLS] has
    logits 10/10, xx 0/0, zz -20/-20. Snippet 2 'yy ww': [CLS] -20, yy 1/1,
    ww 0/0. n-best (by hand): snippet 1 xx = 1/(1 + e^-20 + e^-40), snippet 2
    softmax of (2, 1, 0) over yy, 'yy ww', ww: xx is first, strict 1. Product:
    xx = (1/(e^10 + 1 + e^-20))^2 is about 2e-9, yy = (e/(e + 1 + e^-20))^2 =
    0.534: xx is 4th (after yy, 'yy ww', ww), strict 0, MRR 1/4."""
    from spacy_biobert.apps.evaluate_qa import evaluate_bioasq

    test_dir = tmp_path / "bioasq"
    test_dir.mkdir()
    test = _squad([
        ("xx zz", [{"id": "aaa_001", "question": "Which?"}]),
        ("yy ww", [{"id": "aaa_002", "question": "Which?"}]),
    ])
    (test_dir / "BioASQ-test-factoid-6b-1.json").write_text(json.dumps(test), encoding="utf8")
    golden = {"questions": [{"id": "aaa", "type": "factoid", "exact_answer": [["XX"]]}]}
    (test_dir / "6B1_golden.json").write_text(json.dumps(golden), encoding="utf8")
    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_qa", name="qa", config={
        "model": {"name": str(tiny_bert), "tokenizer_config": {"name": str(tiny_bert)}, "max_length": 32},
    })
    nlp.initialize()
    pipe = nlp.get_pipe("qa")
    monkeypatch.setattr(pipe, "predict", _synthetic_scores(
        {"xx": (0, 0), "zz": (-20, -20), "yy": (1, 1), "ww": (0, 0)},
        {"xx zz": (10, 10), "yy ww": (-20, -20)},
    ))
    results = evaluate_bioasq(nlp, test_dir, probabilities=["nbest", "product"], show_progress=False)
    nbest = results["by_probabilities"]["nbest"]
    product = results["by_probabilities"]["product"]
    assert results["probabilities"] == "nbest" and results["per_batch"] == nbest["per_batch"]
    e = math.exp
    z1 = 1 + e(-20) + e(-40)
    z2 = e(2) + e(1) + 1
    assert nbest["predictions"]["6b-1:aaa"] == [
        ("xx", pytest.approx(1 / z1)), ("yy", pytest.approx(e(2) / z2)), ("yy ww", pytest.approx(e(1) / z2)),
        ("ww", pytest.approx(1 / z2)), ("xx zz", pytest.approx(e(-20) / z1, rel=1e-6)),
    ]
    ps_x = 1 / (e(10) + 1 + e(-20))
    ps_y, ps_w = e(1) / (e(1) + 1 + e(-20)), 1 / (e(1) + 1 + e(-20))
    assert product["predictions"]["6b-1:aaa"] == [
        ("yy", pytest.approx(ps_y * ps_y)), ("yy ww", pytest.approx(ps_y * ps_w)), ("ww", pytest.approx(ps_w * ps_w)),
        ("xx", pytest.approx(ps_x * ps_x)), ("xx zz", pytest.approx(ps_x * e(-20) / (e(10) + 1 + e(-20)), rel=1e-6)),
    ]
    [b_nbest], [b_product] = nbest["per_batch"], product["per_batch"]
    assert (b_nbest["strict"], b_nbest["lenient"], b_nbest["mrr"]) == (1.0, 1.0, 1.0)
    assert (b_product["strict"], b_product["lenient"], b_product["mrr"]) == (0.0, 1.0, 0.25)
