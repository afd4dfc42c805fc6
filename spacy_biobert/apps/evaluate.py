"""NER evaluation with the paper's protocol: seqeval over sentences read from an IOB file."""

import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy.tokens import Doc
from tqdm import tqdm

from ..ner.iob import read_iob_sentences
from ..ner.scorer import seqeval_prf
from ..ner.tags import entity_types, spans_to_iob


def evaluate_ner(
    nlp: Any, path: Path, *, untyped: bool = True, batch_size: int = 64,
    component: Optional[str] = None, show_progress: bool = True, limit: int = 0,
) -> Dict[str, Any]:
    """Run `nlp` over the sentences of an IOB file and score its entities
    against the file's tags with seqeval.

    untyped (bool): the paper's protocol (default): every entity type is one
        class, so a prediction with the right span and a wrong type is a true
        positive. False: the type must match too.
    limit (int): only the first N sentences of the file (0 = all).
    RETURNS (Dict[str, Any]): precision, recall, f1 and per_type under the
        chosen protocol, and counts. When the file has several entity types,
        also "untyped" and "typed" (each precision, recall, f1, per_type);
        "typed" is None (with "typed_note") when the pipeline predicts labels
        that are not types of the file (a model trained untyped).
    """
    sentences = list(read_iob_sentences(path))
    if limit > 0:
        sentences = sentences[:limit]
    gold_tags: List[List[str]] = [s.tags for s in sentences]
    n_words = sum(len(s.words) for s in sentences)
    # Sentences go through the pipeline sorted by length (a batch is padded to
    # its longest member), and their predictions are put back in file order.
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i].words))
    docs = (Doc(nlp.vocab, words=sentences[i].words) for i in order)
    pred_tags: List[List[str]] = [[] for _ in sentences]
    start = time.perf_counter()
    for i, doc in zip(order, tqdm(
        nlp.pipe(docs, batch_size=batch_size), total=len(sentences),
        desc=f"Evaluating {path.name}", unit="sent", disable=not show_progress,
    )):
        pred_tags[i] = spans_to_iob(len(doc), ((e.start, e.end, e.label_) for e in doc.ents))
    seconds = time.perf_counter() - start
    gold_types = entity_types(gold_tags)
    pred_types = entity_types(pred_tags)
    scores = seqeval_prf(gold_tags, pred_tags, untyped=untyped)
    results: Dict[str, Any] = {
        "protocol": "untyped" if untyped else "typed",
        "precision": scores["ents_p"],
        "recall": scores["ents_r"],
        "f1": scores["ents_f"],
        "per_type": scores["ents_per_type"],
        "gold_types": gold_types,
        "pred_types": pred_types,
    }
    if len(gold_types) > 1:
        other = seqeval_prf(gold_tags, pred_tags, untyped=not untyped)
        by_protocol = {"untyped": scores, "typed": other} if untyped else {"untyped": other, "typed": scores}
        for name, prf in by_protocol.items():
            results[name] = {
                "precision": prf["ents_p"], "recall": prf["ents_r"], "f1": prf["ents_f"],
                "per_type": prf["ents_per_type"],
            }
        if not set(pred_types) <= set(gold_types):
            results["typed"] = None
            results["typed_note"] = (
                f"the pipeline predicts {', '.join(pred_types)}, not the file's types "
                f"({', '.join(gold_types)}): a model trained untyped has no typed score"
            )
    results.update({
        "n_sentences": len(sentences),
        "n_words": n_words,
        "n_gold_entities": _count_ents(gold_tags),
        "n_pred_entities": _count_ents(pred_tags),
        "seconds": round(seconds, 2),
        "words_per_second": round(n_words / seconds, 1) if seconds else None,
    })
    return results


def _count_ents(tag_seqs: List[List[str]]) -> int:
    from ..ner.tags import iob_to_spans

    return sum(len(iob_to_spans(tags)) for tags in tag_seqs)


def markdown_table(results: Dict[str, Any]) -> str:
    paper = results.get("paper_f1") or {}
    lines = [
        f"### NER: {results['dataset']} ({results['split']} split)",
        "",
        f"Model: `{results['model']}`; base model: `{results.get('base_model')}`. "
        f"Metric: {results['metric']}.",
        "",
        "| data set | precision | recall | F1 | paper BERT F1 | paper BioBERT F1 | sentences | words/s |",
        "|---|---|---|---|---|---|---|---|",
        "| {d} | {p} | {r} | {f} | {pb} | {pbb} | {n} | {w} |".format(
            d=results["dataset"], p=_pct(results["precision"]), r=_pct(results["recall"]),
            f=_pct(results["f1"]), pb=paper.get("bert", "-"), pbb=paper.get("biobert", "-"),
            n=results["n_sentences"], w=results["words_per_second"],
        ),
    ]
    if "untyped" in results:
        lines += [
            "", "| protocol | precision | recall | F1 |", "|---|---|---|---|",
        ]
        for name, title in (("untyped", "untyped: all types as one (the paper's)"), ("typed", "typed")):
            row = results.get(name)
            if row is None:
                lines.append(f"| {title} | - | - | - |")
            else:
                lines.append(f"| {title} | {_pct(row['precision'])} | {_pct(row['recall'])} | {_pct(row['f1'])} |")
        if results.get("typed_note"):
            lines += ["", f"Typed: {results['typed_note']}."]
        typed = results.get("typed") or {}
        per_type = typed.get("per_type", {})
    else:
        per_type = results.get("per_type", {})
    if len(per_type) > 1:
        lines += ["", "| type | precision | recall | F1 |", "|---|---|---|---|"]
        for label, row in sorted(per_type.items()):
            lines.append(f"| {label} | {_pct(row['p'])} | {_pct(row['r'])} | {_pct(row['f'])} |")
    return "\n".join(lines) + "\n"


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.2f}"
