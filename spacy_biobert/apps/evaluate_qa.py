"""BioASQ factoid evaluation of a QA pipeline over the official test batches."""

import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from spacy.util import minibatch
from tqdm import tqdm

from ..errors import Errors
from ..qa.bioasq import bioasq_factoid_scores, golden_synonyms, pool_bioasq_answers
from ..qa.squad import iter_squad_entries

TEST_FILE = re.compile(r"^BioASQ-test-factoid-(\d+)b-(\d+)\.json$")


# Lee et al. 2020, Table 6 (strict / lenient / MRR, %): BioBERT v1.1; BERT MRR
PAPER_QA = {
    "4b": {"biobert": (27.95, 44.10, 34.72), "bert_mrr": 33.77},
    "5b": {"biobert": (46.00, 60.00, 51.64), "bert_mrr": 44.27},
    "6b": {"biobert": (42.86, 57.77, 48.43), "bert_mrr": 40.88},
}


def find_bioasq_batches(
    test_dir: Path, years: Optional[List[str]] = None, batches: Optional[List[int]] = None,
) -> List[Tuple[str, int, Path, Path]]:
    """(year, batch, test file, golden file) of every test batch in a folder
    that has its golden file (BioASQ-test-factoid-6b-3.json + 6B3_golden.json).

    years (Optional[List[str]]): only these years ("4b", "5b", "6b"); None: all.
    batches (Optional[List[int]]): only these batch numbers (1-5); None: all.
    """
    wanted = {y.strip().lower() for y in years} if years else None
    found = []
    for path in sorted(Path(test_dir).glob("BioASQ-test-factoid-*.json")):
        match = TEST_FILE.match(path.name)
        if not match:
            continue
        year, batch = match.group(1), int(match.group(2))
        if wanted is not None and f"{year}b" not in wanted:
            continue
        if batches and batch not in batches:
            continue
        golden = path.parent / f"{year}B{batch}_golden.json"
        if golden.exists():
            found.append((f"{year}b", batch, path, golden))
    if not found:
        raise ValueError(Errors.E2610.format(path=test_dir))
    return found


def load_factoid_golden(path: Path) -> Dict[str, List[str]]:
    """Question id -> gold synonyms, for the factoid questions of a golden file."""
    content = json.loads(Path(path).read_text(encoding="utf8"))
    return {
        q["id"]: golden_synonyms(q.get("exact_answer"))
        for q in content.get("questions", [])
        if q.get("type") == "factoid"
    }


def read_test_snippets(path: Path) -> List[Tuple[str, str, str]]:
    """(question id, snippet text, question) of every snippet of a test file;
    snippet ids are '<question id>_<snippet index>'."""
    out = []
    for _, context, qa in iter_squad_entries(path):
        sid = str(qa.get("id", ""))
        qid = sid.rsplit("_", 1)[0] if "_" in sid else sid
        out.append((qid, context, qa["question"]))
    return out


def _qa_pipe(nlp: Any, component: Optional[str]) -> Any:
    from ..qa.component import QuestionAnswerer

    if component:
        return nlp.get_pipe(component)
    for _, pipe in nlp.pipeline:
        if isinstance(pipe, QuestionAnswerer):
            return pipe
    raise ValueError(Errors.E2611.format(names=nlp.pipe_names))


def evaluate_bioasq(
    nlp: Any, test_dir: Path, *, component: Optional[str] = None, n_best: int = 20,
    null_answer: bool = False, batch_size: int = 32, show_progress: bool = True,
    years: Optional[List[str]] = None, probabilities: Union[str, Sequence[str]] = "nbest",
    batches: Optional[List[int]] = None,
) -> Dict[str, Any]:
    """Run `nlp` over the BioASQ factoid test batches of `test_dir` and score
    them (see the module docstring).

    n_best (int): answers taken per snippet before pooling (BioBERT: 20); the
        component's n-best list is this long too.
    null_answer (bool): let a snippet give no answer when [CLS] wins; off by
        default, as in the paper's SQuAD v1.1-style factoid runs.
    years (Optional[List[str]]): only these years' batches (e.g. ["6b"]).
    batches (Optional[List[int]]): only these batch numbers (quick checks).
    probabilities (Union[str, Sequence[str]]): the answer probabilities pooled:
        "nbest" (BioBERT's n-best softmax) or "product"; several (a list) are
        scored from the same encoder pass.
    RETURNS (Dict[str, Any]): per_batch, per_year, predictions, probabilities
        (of the first scoring); with several scorings also by_probabilities:
        scoring -> {per_batch, per_year, predictions}.
    """
    from ..qa.component import _check_probabilities, set_questions

    modes = [probabilities] if isinstance(probabilities, str) else list(dict.fromkeys(probabilities))
    if not modes:
        raise ValueError(Errors.E2623.format(what="no probabilities to score"))
    for mode in modes:
        _check_probabilities(mode)
    pipe = _qa_pipe(nlp, component)
    before = []
    for _, proc in nlp.pipeline:
        if proc is pipe:
            break
        before.append(proc)
    saved = dict(pipe.cfg)
    pipe.cfg["top_k"] = n_best
    pipe.cfg["n_best_size"] = n_best
    pipe.cfg["null_answer"] = null_answer
    q_attr = pipe.cfg["questions_attr"]
    out: Dict[str, Dict[str, Any]] = {m: {"per_batch": [], "predictions": {}} for m in modes}
    try:
        for year, batch, test_path, golden_path in find_bioasq_batches(test_dir, years, batches):
            snippets = read_test_snippets(test_path)
            golden = load_factoid_golden(golden_path)
            candidates: Dict[str, Dict[str, List[Tuple[str, float]]]] = {m: {} for m in modes}
            start = time.perf_counter()
            progress = tqdm(total=len(snippets), desc=f"BioASQ {year} batch {batch}", unit="snippet", disable=not show_progress)
            for chunk in minibatch(snippets, size=batch_size):
                docs = [set_questions(nlp.make_doc(text), [question], attr=q_attr) for _, text, question in chunk]
                for proc in before:
                    docs = list(proc.pipe(docs)) if hasattr(proc, "pipe") else [proc(d) for d in docs]
                # one encoder pass; each scoring decodes the same logits
                scores = pipe.predict(docs)
                for (qid, _, _), doc, doc_scores in zip(chunk, docs, scores):
                    for mode in modes:
                        answers = pipe._decode(doc.text, doc_scores[0], probabilities=mode) if doc_scores else []
                        candidates[mode].setdefault(qid, []).extend((a["text"], a["score"]) for a in answers)
                progress.update(len(chunk))
            progress.close()
            seconds = round(time.perf_counter() - start, 2)
            for mode in modes:
                pooled = {qid: pool_bioasq_answers(c) for qid, c in candidates[mode].items()}
                scores_ = bioasq_factoid_scores({q: [t for t, _ in p] for q, p in pooled.items()}, golden)
                scores_.update({
                    "year": year, "batch": batch, "n_snippets": len(snippets),
                    "test_file": test_path.name, "golden_file": golden_path.name,
                    "seconds": seconds,
                })
                out[mode]["per_batch"].append(scores_)
                for qid, p in pooled.items():
                    out[mode]["predictions"][f"{year}-{batch}:{qid}"] = p
    finally:
        pipe.cfg.clear()
        pipe.cfg.update(saved)
    for mode in modes:
        out[mode]["per_year"] = _per_year(out[mode]["per_batch"])
    first = modes[0]
    result: Dict[str, Any] = {
        "probabilities": first, "per_batch": out[first]["per_batch"],
        "per_year": out[first]["per_year"], "predictions": out[first]["predictions"],
    }
    if len(modes) > 1:
        result["by_probabilities"] = {
            m: {"per_batch": out[m]["per_batch"], "per_year": out[m]["per_year"], "predictions": out[m]["predictions"]}
            for m in modes
        }
    return result


def _per_year(per_batch: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per year: the mean of the batch scores (macro, as BioBERT reports) and
    the scores over all the year's questions pooled (micro)."""
    out: Dict[str, Dict[str, Any]] = {}
    for year in sorted({b["year"] for b in per_batch}):
        rows = [b for b in per_batch if b["year"] == year and b["n_questions"]]
        n = sum(b["n_questions"] for b in rows)
        entry: Dict[str, Any] = {"n_batches": len(rows), "n_questions": n}
        for key in ("strict", "lenient", "mrr"):
            entry[key] = sum(b[key] for b in rows) / len(rows) if rows else None
            entry[f"{key}_micro"] = sum(b[key] * b["n_questions"] for b in rows) / n if n else None
        if year in PAPER_QA:
            s, lenient, mrr = PAPER_QA[year]["biobert"]
            entry["paper_biobert"] = {"strict": s, "lenient": lenient, "mrr": mrr}
            entry["paper_bert_mrr"] = PAPER_QA[year]["bert_mrr"]
        out[year] = entry
    return out


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


_PROBABILITIES_TEXT = {
    "nbest": "BioBERT's n-best probabilities (softmax of start + end logit over each snippet's n-best list)",
    "product": "start x end probabilities (the earlier scoring, not renormalised)",
}


def markdown_table(results: Dict[str, Any]) -> str:
    """The results as markdown: one section per scoring."""
    by = results.get("by_probabilities") or {
        results.get("probabilities", "nbest"): {"per_year": results["per_year"], "per_batch": results["per_batch"]}
    }
    parts = [_markdown_one(results, mode, r) for mode, r in by.items()]
    return "\n".join(parts)


def _markdown_one(results: Dict[str, Any], mode: str, scored: Dict[str, Any]) -> str:
    lines = [
        f"### QA: BioASQ factoid ({mode})",
        "",
        f"Model: `{results.get('model')}`; base model: `{results.get('base_model')}`. "
        "Metric: BioASQ strict / lenient accuracy and MRR (%) over all factoid questions "
        f"of each golden file; {_PROBABILITIES_TEXT.get(mode, mode)}; n-best answers pooled "
        "over a question's snippets, empty and >100-character answers dropped, identical "
        "lower-cased answers merged by summed probability, top 5; correct = equal to a gold "
        "synonym after lower-casing (no stripping), as the official evaluator. Year = mean over its batches.",
        "",
        "| year | strict | lenient | MRR | paper BioBERT (S / L / MRR) | paper BERT MRR | questions |",
        "|---|---|---|---|---|---|---|",
    ]
    for year, row in scored["per_year"].items():
        paper = row.get("paper_biobert")
        paper_str = f"{paper['strict']} / {paper['lenient']} / {paper['mrr']}" if paper else "-"
        lines.append(
            f"| {year} | {_pct(row['strict'])} | {_pct(row['lenient'])} | {_pct(row['mrr'])} "
            f"| {paper_str} | {row.get('paper_bert_mrr', '-')} | {row['n_questions']} |"
        )
    lines += ["", "| batch | strict | lenient | MRR | questions | answered | snippets |", "|---|---|---|---|---|---|---|"]
    for b in scored["per_batch"]:
        lines.append(
            f"| {b['year']}-{b['batch']} | {_pct(b['strict'])} | {_pct(b['lenient'])} | "
            f"{_pct(b['mrr'])} | {b['n_questions']} | {b['n_answered']} | {b['n_snippets']} |"
        )
    return "\n".join(lines) + "\n"
