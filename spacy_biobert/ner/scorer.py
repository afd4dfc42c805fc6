"""NER scoring as seqeval (the paper's evaluation code) does it, and the registered scorer."""

from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
)

from spacy.scorer import Scorer
from spacy.training import Example
from spacy.util import registry

from .tags import spans_to_iob


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


def span_group_ner_score(
    examples: Iterable[Example], spans_key: str, *, untyped: bool = False
) -> Dict[str, Any]:
    """Score the span group ``doc.spans[spans_key]`` of Examples (entity-level
    exact match, as seqeval; the spans may overlap). The gold spans are the
    reference's group when it has one, else its ``doc.ents``.

    RETURNS (Dict[str, Any]): spans_<key>_p, _r, _f and (typed) _per_type.
    """

    def getter(doc, attr):
        return doc.spans[spans_key] if spans_key in doc.spans else doc.ents

    return Scorer.score_spans(
        examples, f"spans_{spans_key}", getter=getter, allow_overlap=True, labeled=not untyped,
    )


@registry.scorers("spacy-biobert.seqeval_ner_scorer.v1")
def make_seqeval_ner_scorer(untyped: bool = False):
    """Registered scorer: seqeval entity-level P/R/F1 of doc.ents (see
    seqeval_ner_score); for a component with a ``spans_key``, the P/R/F1 of that
    span group (see span_group_ner_score).

    untyped (bool): score all entity types as one.
    """

    def scorer(examples: Iterable[Example], *, spans_key: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
        if spans_key is not None:
            return span_group_ner_score(examples, spans_key, untyped=untyped)
        return seqeval_ner_score(examples, untyped=untyped)

    return scorer
