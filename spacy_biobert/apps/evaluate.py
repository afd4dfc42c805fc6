"""NER evaluation with the paper's protocol: seqeval over the sentences of a
token-format file (IOB, CoNLL, .spacy), or exact character-offset matches on
the raw text of an offset-format corpus (PubTator, BioC, BRAT)."""

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from spacy.tokens import Doc
from tqdm import tqdm

from ..ner.corpus import read_offset_documents, read_token_sentences
from ..ner.scorer import seqeval_prf
from ..ner.tags import entity_types, spans_to_iob


def evaluate_ner(
    nlp: Any, path: Path, *, untyped: bool = True, batch_size: int = 64,
    component: Optional[str] = None, show_progress: bool = True, limit: int = 0,
    fmt: str = "iob",
) -> Dict[str, Any]:
    """Run `nlp` over the sentences of an IOB file and score its entities
    against the file's tags with seqeval.

    fmt (str): the file's token format: "iob" (token<TAB>tag), "conll" or
        "spacy" (a DocBin: one sentence per Doc, its doc.ents the gold).

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
    path = Path(path)
    sentences = list(read_token_sentences(path, fmt, nlp.vocab))
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
    results = _protocol_results(
        lambda u: seqeval_prf(gold_tags, pred_tags, untyped=u), untyped, gold_types, pred_types, "file"
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


Scored = Set[Tuple[int, int, int, str]]


def offset_prf(gold: Scored, pred: Scored, *, untyped: bool) -> Dict[str, Any]:
    """Micro precision, recall and F1 of exact (doc, start, end[, label])
    matches, and per gold type when typed."""

    def prf(g: Set, p: Set) -> Dict[str, float]:
        tp = len(g & p)
        prec = tp / len(p) if p else 0.0
        rec = tp / len(g) if g else 0.0
        return {"p": prec, "r": rec, "f": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}

    if untyped:
        total = prf({m[:3] for m in gold}, {m[:3] for m in pred})
        per_type: Dict[str, Dict[str, float]] = {}
    else:
        total = prf(gold, pred)
        labels = sorted({m[3] for m in gold} | {m[3] for m in pred})
        per_type = {lab: prf({m for m in gold if m[3] == lab}, {m for m in pred if m[3] == lab}) for lab in labels}
    return {"ents_p": total["p"], "ents_r": total["r"], "ents_f": total["f"], "ents_per_type": per_type}


def evaluate_ner_offsets(
    nlp: Any, path: Path, fmt: str, *, untyped: bool = True, batch_size: int = 8,
    show_progress: bool = True, limit: int = 0,
) -> Dict[str, Any]:
    """Run `nlp` over the raw text of each document of an offset-format
    corpus (pubtator, bioc-xml, bioc-json, brat) and score its doc.ents
    against every gold mention by character offsets: exact match of start and
    end (and type when not untyped), micro P/R/F1. Gold offsets are trimmed of
    whitespace at their ends; a discontinuous mention counts once per fragment.

    RETURNS (Dict[str, Any]): as evaluate_ner, with n_documents instead of
        n_sentences.
    """
    path = Path(path)
    documents = list(read_offset_documents(path, fmt))
    if limit > 0:
        documents = documents[:limit]
    gold: Scored = set()
    for i, d in enumerate(documents):
        for start, end, label in d.mentions:
            while start < end and d.text[start:start + 1].isspace():
                start += 1
            while end > start and d.text[end - 1:end].isspace():
                end -= 1
            gold.add((i, start, end, label))
    pred: Scored = set()
    n_tokens = 0
    start_time = time.perf_counter()
    for i, doc in enumerate(tqdm(
        nlp.pipe((d.text for d in documents), batch_size=batch_size), total=len(documents),
        desc=f"Evaluating {path.name}", unit="doc", disable=not show_progress,
    )):
        n_tokens += len(doc)
        pred.update((i, e.start_char, e.end_char, e.label_) for e in doc.ents)
    seconds = time.perf_counter() - start_time
    gold_types = sorted({m[3] for m in gold})
    pred_types = sorted({m[3] for m in pred})
    results = _protocol_results(
        lambda u: offset_prf(gold, pred, untyped=u), untyped, gold_types, pred_types, "corpus"
    )
    results.update({
        "n_documents": len(documents),
        "n_words": n_tokens,
        "n_gold_entities": len(gold),
        "n_pred_entities": len(pred),
        "seconds": round(seconds, 2),
        "words_per_second": round(n_tokens / seconds, 1) if seconds else None,
    })
    return results


def _protocol_results(
    score: Callable[[bool], Dict[str, Any]], untyped: bool, gold_types: List[str],
    pred_types: List[str], source: str,
) -> Dict[str, Any]:
    """The headline scores under the chosen protocol and, when the gold has
    several types, both protocols side by side (typed None with a note when
    the pipeline predicts types the gold does not have).

    score (Callable[[bool], Dict[str, Any]]): untyped -> ents_p/r/f and
        ents_per_type (seqeval over tokens or exact character offsets).
    source (str): what the gold types are of, for the note ("file", "corpus").
    """
    scores = score(untyped)
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
        other = score(not untyped)
        by_protocol = {"untyped": scores, "typed": other} if untyped else {"untyped": other, "typed": scores}
        for name, prf in by_protocol.items():
            results[name] = {
                "precision": prf["ents_p"], "recall": prf["ents_r"], "f1": prf["ents_f"],
                "per_type": prf["ents_per_type"],
            }
        if not set(pred_types) <= set(gold_types):
            results["typed"] = None
            results["typed_note"] = (
                f"the pipeline predicts {', '.join(pred_types)}, not the {source}'s types "
                f"({', '.join(gold_types)}): a model trained untyped has no typed score"
            )
    return results


def _count_ents(tag_seqs: List[List[str]]) -> int:
    from ..ner.tags import iob_to_spans

    return sum(len(iob_to_spans(tags)) for tags in tag_seqs)


def markdown_table(results: Dict[str, Any]) -> str:
    paper = results.get("paper_f1") or {}
    unit = "sentences" if "n_sentences" in results else "documents"
    lines = [
        f"### NER: {results['dataset']} ({results['split']} split)",
        "",
        f"Model: `{results['model']}`; base model: `{results.get('base_model')}`. "
        f"Metric: {results['metric']}.",
        "",
        f"| data set | precision | recall | F1 | paper BERT F1 | paper BioBERT F1 | {unit} | words/s |",
        "|---|---|---|---|---|---|---|---|",
        "| {d} | {p} | {r} | {f} | {pb} | {pbb} | {n} | {w} |".format(
            d=results["dataset"], p=_pct(results["precision"]), r=_pct(results["recall"]),
            f=_pct(results["f1"]), pb=paper.get("bert", "-"), pbb=paper.get("biobert", "-"),
            n=results.get("n_sentences", results.get("n_documents")), w=results["words_per_second"],
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
