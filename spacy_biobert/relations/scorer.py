"""Scoring: seqeval for NER, positive-class and ChemProt micro P/R/F1 for RE.

NER: predicted entities are aligned to the gold tokens, both sides are turned
into IOB2 tag sequences and scored by ``seqeval.metrics`` in its default
(conlleval) mode: exact match of boundaries and type, micro-averaged.

RE (see PROTOCOL): GAD and EU-ADR score the positive class per fold and
average P, R and F1 over the 10 folds (cv_average); ChemProt scores micro
P/R/F1 over CPR:3, 4, 5, 6 and 9 only, where "false" is never a target class
and a wrong positive class is one FP and one FN (chemprot_prf).
"""

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

from ..errors import Errors
from .marking import CPR_LABELS


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
        raise ValueError(Errors.E2310.format(n_gold=len(gold), n_pred=len(pred)))
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
        raise ValueError(Errors.E2310.format(n_gold=len(gold), n_pred=len(pred)))
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
        raise ValueError(Errors.E2311)
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
