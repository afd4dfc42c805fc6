"""Scoring: seqeval for NER, positive-class and ChemProt micro P/R/F1 for RE.

NER: predicted entities are aligned to the gold tokens, both sides are turned
into IOB2 tag sequences and scored by ``seqeval.metrics`` in its default
(conlleval) mode: exact match of boundaries and type, micro-averaged.

RE (see PROTOCOL): GAD and EU-ADR score the positive class per fold and
average P, R and F1 over the 10 folds (cv_average); ChemProt scores micro
P/R/F1 over CPR:3, 4, 5, 6 and 9 only, where "false" is never a target class
and a wrong positive class is one FP and one FN (chemprot_prf).
"""

import re
import string
from collections import Counter
from typing import (
    Any,
    Collection,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from spacy.training import Example
from spacy.util import SimpleFrozenList, registry

from .errors import Errors
from .re_data import CPR_LABELS
from .readers import spans_to_iob


def seqeval_prf(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, untyped: bool = False
) -> Dict[str, Any]:
    """Entity-level exact-match P/R/F1 of IOB2 tag sequences with seqeval.

    gold (Sequence[Sequence[str]]): gold tags per sentence.
    pred (Sequence[Sequence[str]]): predicted tags per sentence.
    untyped (bool): score all entity types as one (the paper's setting).
    RETURNS (Dict[str, Any]): ents_p, ents_r, ents_f, ents_per_type, support.
    """
    from seqeval.metrics import (
        classification_report,
        f1_score,
        precision_score,
        recall_score,
    )

    gold = [list(s) for s in gold]
    pred = [list(s) for s in pred]
    if untyped:
        gold = [[t.split("-", 1)[0] + ("-X" if t != "O" else "") for t in s] for s in gold]
        pred = [[t.split("-", 1)[0] + ("-X" if t != "O" else "") for t in s] for s in pred]
    n_gold = sum(t.startswith("B") or t.startswith("I") for s in gold for t in s)
    n_pred = sum(t.startswith("B") or t.startswith("I") for s in pred for t in s)
    if n_gold == 0 and n_pred == 0:
        return {"ents_p": None, "ents_r": None, "ents_f": None, "ents_per_type": {}}
    per_type: Dict[str, Dict[str, float]] = {}
    if n_gold:
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        for label, row in report.items():
            if label.endswith(" avg"):
                continue
            per_type[label] = {"p": float(row["precision"]), "r": float(row["recall"]), "f": float(row["f1-score"])}
    return {
        "ents_p": float(precision_score(gold, pred, zero_division=0)),
        "ents_r": float(recall_score(gold, pred, zero_division=0)),
        "ents_f": float(f1_score(gold, pred, zero_division=0)),
        "ents_per_type": per_type,
    }


def example_to_iob(eg: Example) -> List[List[str]]:
    """Gold and predicted IOB2 tags of one Example, on the gold tokens."""
    ref = eg.reference
    gold = spans_to_iob(len(ref), ((e.start, e.end, e.label_) for e in ref.ents))
    aligned = eg.get_aligned_spans_x2y(eg.predicted.ents, allow_overlap=False)
    pred = spans_to_iob(len(ref), ((e.start, e.end, e.label_) for e in aligned))
    return [gold, pred]


def seqeval_ner_score(
    examples: Iterable[Example], *, untyped: bool = False, **kwargs: Any
) -> Dict[str, Any]:
    """Score the entities of Examples with seqeval (the paper's metric).

    examples (Iterable[Example]): predicted and gold docs.
    untyped (bool): score all entity types as one.
    RETURNS (Dict[str, Any]): ents_p, ents_r, ents_f, ents_per_type.
    """
    golds: List[List[str]] = []
    preds: List[List[str]] = []
    for eg in examples:
        gold, pred = example_to_iob(eg)
        golds.append(gold)
        preds.append(pred)
    return seqeval_prf(golds, preds, untyped=untyped)


@registry.scorers("spacy-biobert.seqeval_ner_scorer.v1")
def make_seqeval_ner_scorer(untyped: bool = False):
    """Registered scorer: seqeval entity-level P/R/F1 (see seqeval_ner_score).

    untyped (bool): score all entity types as one.
    """

    def scorer(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        return seqeval_ner_score(examples, untyped=untyped)

    return scorer


# ---------------------------------------------------------------------------
# Relation extraction: the paper's RE metrics (Lee et al. 2020, Table 4)


def _prf(tp: int, fp: int, fn: int) -> Dict[str, Any]:
    """P/R/F1 from counts; 0.0 where a denominator is 0 (zero_division=0)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f, "tp": tp, "fp": fp, "fn": fn}


def binary_prf(
    gold: Sequence[Any], pred: Sequence[Any], *, positive: Any = 1
) -> Dict[str, Any]:
    """Precision, recall and F1 of the positive class (GAD, EU-ADR).

    gold (Sequence[Any]): gold label per instance.
    pred (Sequence[Any]): predicted label per instance.
    positive (Any): the positive label.
    RETURNS (Dict[str, Any]): p, r, f, tp, fp, fn.
    """
    if len(gold) != len(pred):
        raise ValueError(Errors.E039.format(n_gold=len(gold), n_pred=len(pred)))
    tp = sum(g == positive and p == positive for g, p in zip(gold, pred))
    fp = sum(g != positive and p == positive for g, p in zip(gold, pred))
    fn = sum(g == positive and p != positive for g, p in zip(gold, pred))
    return _prf(tp, fp, fn)


def chemprot_prf(
    gold: Sequence[Union[str, Collection[str]]], pred: Sequence[str], *,
    labels: Sequence[str] = CPR_LABELS,
) -> Dict[str, Any]:
    """Micro P/R/F1 over the evaluated ChemProt classes (CPR:3, 4, 5, 6, 9).

    Any label outside ``labels`` ("false", CPR:0...) is negative and never a
    target class. Per instance: a predicted class in the gold is a TP; a
    predicted class not in the gold is an FP; each gold class not predicted is
    an FN. So a wrong positive class counts as one FP and one FN, as in the
    official evaluation of (PMID, class, Arg1, Arg2) tuples. A gold entry may
    be a collection of classes (a pair with two gold relations).

    gold (Sequence[Union[str, Collection[str]]]): gold class(es) per instance.
    pred (Sequence[str]): predicted class per instance.
    labels (Sequence[str]): the target classes.
    RETURNS (Dict[str, Any]): p, r, f, tp, fp, fn and per_type
        ({label: {p, r, f, tp, fp, fn}}).
    """
    if len(gold) != len(pred):
        raise ValueError(Errors.E039.format(n_gold=len(gold), n_pred=len(pred)))
    targets = set(labels)
    counts = {label: [0, 0, 0] for label in labels}
    for g, p in zip(gold, pred):
        gold_set = ({g} if isinstance(g, str) else set(g)) & targets
        if p in targets:
            counts[p][0 if p in gold_set else 1] += 1
        for label in gold_set - {p}:
            counts[label][2] += 1
    tp, fp, fn = (sum(c[k] for c in counts.values()) for k in range(3))
    scores = _prf(tp, fp, fn)
    scores["per_type"] = {label: _prf(*c) for label, c in counts.items()}
    return scores


def cv_average(
    folds: Sequence[Dict[str, Any]], *, keys: Sequence[str] = ("p", "r", "f")
) -> Dict[str, Any]:
    """The paper's 10-fold figure: each metric averaged over the folds.

    folds (Sequence[Dict[str, Any]]): one score dict per fold (e.g. binary_prf).
    keys (Sequence[str]): the metrics to average.
    RETURNS (Dict[str, Any]): the mean and the sample standard deviation of
        each key (``<key>`` and ``<key>_std``) and ``folds``, the per-fold
        values of each key.
    """
    if not folds:
        raise ValueError(Errors.E040)
    out: Dict[str, Any] = {}
    for key in keys:
        values = [float(fold[key]) for fold in folds]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        out[key] = mean
        out[f"{key}_std"] = var**0.5
    out["folds"] = [{key: float(fold[key]) for key in keys} for fold in folds]
    return out


def re_binary_score(
    examples: Iterable[Example], *, positive_label: str = "1", threshold: float = 0.5,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Positive-class P/R/F1 of Examples whose docs carry doc.cats.

    Gold: reference.cats[positive_label] >= 0.5. Predicted:
    predicted.cats[positive_label] >= threshold.
    RETURNS (Dict[str, Any]): re_p, re_r, re_f, re_counts (tp, fp, fn).
    """
    gold: List[bool] = []
    pred: List[bool] = []
    for eg in examples:
        gold.append(eg.reference.cats.get(positive_label, 0.0) >= 0.5)
        pred.append(eg.predicted.cats.get(positive_label, 0.0) >= threshold)
    s = binary_prf(gold, pred, positive=True)
    return {
        "re_p": s["p"], "re_r": s["r"], "re_f": s["f"],
        "re_counts": {"tp": s["tp"], "fp": s["fp"], "fn": s["fn"]},
    }


def chemprot_score(
    examples: Iterable[Example], *, labels: Sequence[str] = CPR_LABELS, **kwargs: Any
) -> Dict[str, Any]:
    """ChemProt micro P/R/F1 of Examples whose docs carry doc.cats.

    Gold: every class with reference.cats >= 0.5. Predicted: the class with the
    highest predicted.cats score (nothing when cats are empty).
    RETURNS (Dict[str, Any]): re_micro_p, re_micro_r, re_micro_f, re_per_type.
    """
    gold: List[List[str]] = []
    pred: List[str] = []
    for eg in examples:
        gold.append([label for label, v in eg.reference.cats.items() if v >= 0.5])
        cats = eg.predicted.cats
        pred.append(max(cats, key=cats.__getitem__) if cats else "")
    s = chemprot_prf(gold, pred, labels=labels)
    return {
        "re_micro_p": s["p"], "re_micro_r": s["r"], "re_micro_f": s["f"],
        "re_per_type": s["per_type"],
    }


@registry.scorers("spacy-biobert.re_binary_scorer.v1")
def make_re_binary_scorer(positive_label: str = "1", threshold: float = 0.5):
    """Registered scorer: positive-class P/R/F1 (GAD, EU-ADR; see re_binary_score).

    positive_label (str): the cats label of the positive class.
    threshold (float): predicted positive when its score is at least this.
    """

    def scorer(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        return re_binary_score(examples, positive_label=positive_label, threshold=threshold)

    return scorer


@registry.scorers("spacy-biobert.chemprot_scorer.v1")
def make_chemprot_scorer(labels: List[str] = SimpleFrozenList(CPR_LABELS)):
    """Registered scorer: ChemProt micro P/R/F1 over the CPR classes (see
    chemprot_score).

    labels (List[str]): the target classes; others ("false") are negative.
    """

    def scorer(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        return chemprot_score(examples, labels=labels)

    return scorer


def _relation_keys(doc: Any, attr: str) -> Dict[Tuple[int, int, int, int], List[str]]:
    out: Dict[Tuple[int, int, int, int], List[str]] = {}
    for rel in doc._.get(attr) or []:
        head, tail = rel["head"], rel["tail"]
        key = (head["start_char"], head["end_char"], tail["start_char"], tail["end_char"])
        out.setdefault(key, []).append(str(rel["label"]))
    return out


def relation_score(
    examples: Iterable[Example], *, labels: Optional[Sequence[str]] = None,
    relations_attr: str = "relations", no_relation_label: str = "false", **kwargs: Any,
) -> Dict[str, Any]:
    """Micro P/R/F1 of the relations in doc._.relations (predicted vs reference).

    A relation is its (head, tail) character offsets and its label. Every
    pair that has a gold or a predicted relation is one instance scored with
    chemprot_prf: a predicted label in the pair's gold labels is a TP, another
    predicted label an FP, each gold label not predicted an FN (a wrong label
    is one FP and one FN). The no-relation label is never a target class.

    labels (Optional[Sequence[str]]): the target labels (the component passes
        its labels); None: every label seen in gold or predictions.
    relations_attr (str): the Doc._ attribute with the relations.
    RETURNS (Dict[str, Any]): rel_micro_p, rel_micro_r, rel_micro_f, rel_per_type.
    """
    gold: List[List[str]] = []
    pred: List[str] = []
    seen = set()
    for eg in examples:
        g = _relation_keys(eg.reference, relations_attr)
        p = _relation_keys(eg.predicted, relations_attr)
        for key in sorted(set(g) | set(p)):
            gold.append(g.get(key, []))
            # the component writes at most one relation per pair
            pred.append(p[key][0] if key in p else no_relation_label)
            seen.update(g.get(key, []))
            seen.update(p.get(key, []))
    targets = list(labels) if labels is not None else sorted(seen)
    targets = [label for label in targets if label != no_relation_label]
    s = chemprot_prf(gold, pred, labels=targets)
    return {
        "rel_micro_p": s["p"], "rel_micro_r": s["r"], "rel_micro_f": s["f"],
        "rel_per_type": s["per_type"],
    }


@registry.scorers("spacy-biobert.relation_scorer.v1")
def make_relation_scorer():
    """Registered scorer: micro P/R/F1 over doc._.relations (see relation_score).

    The component passes its labels, relations_attr and no_relation_label.
    For ChemProt, the labels are CPR:3, 4, 5, 6, 9, which makes it the paper's
    ChemProt metric on candidate pairs.
    """
    return relation_score


# Question answering ---------------------------------------------------------
#
# Training-time model selection uses SQuAD's exact match and token F1 of the
# top answer (qa_score). The reported metric is BioASQ's (PROTOCOL, QA):
# pool the n-best spans of all snippets of a question (pool_bioasq_answers),
# then strict accuracy, lenient accuracy and MRR over all factoid questions of
# the golden file (bioasq_factoid_scores).

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_squad_answer(text: str) -> str:
    """SQuAD v1.1's answer normalization: lower-case, drop punctuation and
    articles (a, an, the), collapse white space."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


_PUNCTUATION = set(string.punctuation)


def squad_exact_f1(prediction: str, golds: Sequence[str]) -> Tuple[float, float]:
    """SQuAD v1.1 exact match and token F1 of one prediction, the maximum over
    the gold answers.

    RETURNS (Tuple[float, float]): exact match (0 or 1) and F1 (0 to 1).
    """
    if not golds:
        return (1.0, 1.0) if not prediction else (0.0, 0.0)
    pred_norm = normalize_squad_answer(prediction)
    pred_tokens = pred_norm.split()
    best_em = best_f1 = 0.0
    for gold in golds:
        gold_norm = normalize_squad_answer(gold)
        best_em = max(best_em, float(pred_norm == gold_norm))
        gold_tokens = gold_norm.split()
        common = Counter(pred_tokens) & Counter(gold_tokens)
        same = sum(common.values())
        if same:
            p = same / len(pred_tokens)
            r = same / len(gold_tokens)
            best_f1 = max(best_f1, 2 * p * r / (p + r))
    return best_em, best_f1


def qa_score(examples: Iterable[Example], *, answers_attr: str = "answers", **kwargs: Any) -> Dict[str, Any]:
    """SQuAD exact match and F1 of the top predicted answer of every question
    (predicted doc._.answers against the reference's gold answers), averaged
    over the questions. A question with no predicted answer scores 0 (1 if it
    has no gold answer either).

    answers_attr (str): the Doc._ attribute with the answer records.
    RETURNS (Dict[str, Any]): qa_exact, qa_f1 (None without questions).
    """
    ems: List[float] = []
    f1s: List[float] = []
    for eg in examples:
        gold_records = eg.reference._.get(answers_attr) or []
        pred_records = eg.predicted._.get(answers_attr) or []
        for i, gold in enumerate(gold_records):
            golds = [a["text"] for a in gold.get("answers") or []]
            pred = pred_records[i]["answers"] if i < len(pred_records) else []
            em, f1 = squad_exact_f1(pred[0]["text"] if pred else "", golds)
            ems.append(em)
            f1s.append(f1)
    if not ems:
        return {"qa_exact": None, "qa_f1": None}
    return {"qa_exact": sum(ems) / len(ems), "qa_f1": sum(f1s) / len(f1s)}


@registry.scorers("spacy-biobert.qa_scorer.v1")
def make_qa_scorer():
    """Registered scorer: SQuAD exact match and F1 of the top answers (see
    qa_score); the component passes its answers_attr."""
    return qa_score


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
