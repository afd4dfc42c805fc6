"""BioASQ factoid scoring as the official evaluator does it: pooling snippet answers per question, strict/lenient accuracy and MRR."""

from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Sequence,
    Tuple,
)


def pool_bioasq_answers(
    candidates: Iterable[Tuple[str, float]], *, top_k: int = 5, max_chars: int = 100
) -> List[Tuple[str, float]]:
    """BioASQ factoid post-processing of one question, as BioBERT's
    biocodes/transform_nbset2bioasqform.py does it: pool the n-best answers of
    all its snippets and go through them by probability, highest first; drop
    empty answers ("") and answers longer than `max_chars` characters; merge
    the answers whose lower-cased text is identical by summing their
    probabilities (the merged answer keeps the spelling of its first, i.e.
    most probable, member); rank by summed probability and keep the `top_k`
    best. Texts are not stripped (the official evaluator does not strip).

    candidates (Iterable[Tuple[str, float]]): (answer text, probability) from
        every snippet of the question.
    RETURNS (List[Tuple[str, float]]): (text, summed probability), best first;
        ties keep the order in which the merged answers were first met.
    """
    ordered = sorted(((str(t), float(p)) for t, p in candidates), key=lambda c: c[1], reverse=True)
    merged: Dict[str, List[Any]] = {}
    for text, prob in ordered:
        if text == "" or len(text) > max_chars:
            continue
        key = text.lower()
        if key in merged:
            merged[key][1] += prob
        else:
            merged[key] = [text, prob]
    ranked = sorted(merged.values(), key=lambda entry: entry[1], reverse=True)
    return [(entry[0], entry[1]) for entry in ranked[:top_k]]


def golden_synonyms(exact_answer: Any) -> List[str]:
    """The accepted answers of a BioASQ factoid question: its exact_answer
    ('X', ['X', 'Y'] or [['X', 'Y']], synonym lists) flattened to strings."""
    if isinstance(exact_answer, str):
        return [exact_answer]
    out: List[str] = []
    for item in exact_answer or []:
        out.extend(golden_synonyms(item))
    return out


def bioasq_factoid_scores(
    predictions: Dict[str, Sequence[str]], golden: Dict[str, Sequence[str]], *, top_k: int = 5
) -> Dict[str, Any]:
    """BioASQ factoid strict accuracy, lenient accuracy and MRR.

    An answer is correct when, lower-cased, it equals one of the question's
    gold synonyms lower-cased, as the official BioASQ evaluator
    (BioASQ/Evaluation-Measures, flat/BioASQEvaluation: ``Task1bData.
    readExactAnswerArray`` lower-cases every answer, ``ExactAnswer.
    containsAnswerSynonym`` compares with ``String.equals``) decides it:
    nothing is stripped, so a gold answer with a leading space (4b batch 4,
    question 57090c33cf1c325851000013: ' fewer than 100') can never be
    credited. Strict: the first answer is
    correct; lenient: one of the first `top_k` is; MRR: the mean of 1/rank of
    the first correct answer (0 if none). All three average over every
    question of `golden`: a question without predictions counts as wrong;
    predictions for questions not in `golden` are ignored.

    predictions (Dict[str, Sequence[str]]): question id -> ranked answers.
    golden (Dict[str, Sequence[str]]): question id -> gold synonyms.
    RETURNS (Dict[str, Any]): strict, lenient, mrr (fractions; None when
        golden is empty), n_questions, n_answered.
    """
    strict = lenient = rr = 0.0
    answered = 0
    for qid, synonyms in golden.items():
        gold = {s.lower() for s in synonyms}
        ranked = list(predictions.get(qid) or [])[:top_k]
        if ranked:
            answered += 1
        for rank, answer in enumerate(ranked, start=1):
            if answer.lower() in gold:
                strict += float(rank == 1)
                lenient += 1.0
                rr += 1.0 / rank
                break
    n = len(golden)
    if n == 0:
        return {"strict": None, "lenient": None, "mrr": None, "n_questions": 0, "n_answered": 0}
    return {
        "strict": strict / n, "lenient": lenient / n, "mrr": rr / n,
        "n_questions": n, "n_answered": answered,
    }
