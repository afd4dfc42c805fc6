"""SQuAD exact match and F1 (as the official SQuAD v1.1 evaluator) and the registered QA scorer."""

import re
import string
from collections import Counter
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Sequence,
    Tuple,
)

from spacy.training import Example
from spacy.util import registry

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
