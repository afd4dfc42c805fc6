"""Relation extraction evaluation with the paper's protocol, and the 10-fold
cross-validation of GAD and EU-ADR.

- GAD / EU-ADR (``binary``): positive-class P/R/F1 per fold (the relation
  label "1"), averaged over the 10 folds (``cv_average``).
- ChemProt (``chemprot``): micro P/R/F1 over CPR:3, 4, 5, 6, 9 on the test
  split. With gold entities, the candidates are the gold mentions; gold
  relations whose entities lie in different sentences are never candidates and
  count as false negatives. End to end (``--predicted-entities``), the whole
  pipeline (NER, sentencizer, relation extractor) runs on the raw abstracts
  and a relation is right only if both predicted mentions have exactly the
  gold character offsets and the label is right.

The cross-validation runs every fold as ``spacy train`` + ``spacy-biobert
evaluate-re`` in a child process, in ``<output>/fold<k>``; a fold is done when
its ``metrics.json`` exists, so an interrupted run resumes at the first
unfinished fold. Reusing a folder with other settings is an error (E022).
"""

import json
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from tqdm import tqdm

from ..errors import Errors
from ..relations.binary import list_folds
from ..relations.readers import (
    ENTITIES_SPANS_KEY,
    BinaryRERelationCorpus,
    ChemProtRelationCorpus,
)
from ..relations.scorer import _prf, cv_average, relation_score
from ..text_files import open_utf8
from .file_lock import folder_lock
from .runs import (
    budget_args,
    budget_text,
    reuse_metrics,
    train_and_evaluate,
    write_metrics,
)

# Lee et al. 2020, Table 4 (F1): BERT -> best BioBERT (GAD: v1.0 +PubMed,
# EU-ADR: v1.0 +PMC, ChemProt: v1.1)
PAPER_RE_F1 = {
    "gad": {"bert": 79.29, "biobert": 81.61},
    "euadr": {"bert": 84.62, "biobert": 86.51},
    "chemprot": {"bert": 73.74, "biobert": 76.46},
}


FORMATS = ("binary", "chemprot")


METRICS_FILE = "metrics.json"


_CV_KEYS = ("config", "steps", "epochs", "lr_grid", "heldout_ratio", "learning_rate", "batch_size", "seed", "base_model", "threads", "overrides", "test_limit")


def _relation_components(nlp: Language) -> List[str]:
    from ..relations.component import RelationExtractor

    names = [name for name, pipe in nlp.pipeline if isinstance(pipe, RelationExtractor)]
    if not names:
        raise ValueError(Errors.E2608.format(pipes=nlp.pipe_names))
    return names


def read_examples(nlp: Language, path: Path, fmt: str, *, limit: int = 0) -> List[Example]:
    """Gold examples of a GAD / EU-ADR file or a ChemProt split folder."""
    if fmt == "binary":
        return list(BinaryRERelationCorpus(path, limit=limit)(nlp))
    if fmt == "chemprot":
        return list(ChemProtRelationCorpus(path, limit=limit)(nlp))
    raise ValueError(Errors.E2609.format(fmt=fmt, formats=FORMATS))


def evaluate_relations(
    nlp: Language, examples: Sequence[Example], *, predicted_entities: bool = False,
    batch_size: int = 8, show_progress: bool = True,
) -> Dict[str, Any]:
    """Run the relation extractor (gold entities: on the examples' predicted
    docs, which carry the gold mentions; predicted entities: the whole
    pipeline on the raw texts) and score doc._.relations against the
    references with relation_score.

    RETURNS (Dict[str, Any]): p, r, f, per_type, counts, seconds, and with
        predicted entities the entity P/R/F1 (exact character offsets and label
        against the reference's doc.ents).
    """
    names = _relation_components(nlp)
    rel = nlp.get_pipe(names[-1])
    start = time.perf_counter()
    if predicted_entities:
        texts = (eg.reference.text for eg in examples)
        docs: Iterable[Doc] = nlp.pipe(texts, batch_size=batch_size)
    else:
        docs = (eg.predicted for eg in examples)
        for name in names:
            docs = nlp.get_pipe(name).pipe(docs, batch_size=batch_size)
    scored = []
    for eg, doc in zip(examples, tqdm(
        docs, total=len(examples), desc="Relations", unit="doc", disable=not show_progress,
    )):
        scored.append(Example(doc, eg.reference))
    seconds = time.perf_counter() - start
    attr = rel.cfg["relations_attr"]
    s = relation_score(
        scored, labels=rel.labels, relations_attr=attr,
        no_relation_label=rel.cfg["no_relation_label"],
    )
    out: Dict[str, Any] = {
        "p": s["rel_micro_p"], "r": s["rel_micro_r"], "f": s["rel_micro_f"],
        "per_type": s["rel_per_type"],
        "n_docs": len(scored),
        "n_gold_relations": sum(len(eg.reference._.get(attr) or []) for eg in scored),
        "n_pred_relations": sum(len(eg.predicted._.get(attr) or []) for eg in scored),
        "seconds": round(seconds, 2),
    }
    if predicted_entities:
        out["entities"] = entity_prf(scored)
    return out


def entity_prf(examples: Iterable[Example]) -> Dict[str, Any]:
    """Exact-match P/R/F1 of predicted doc.ents against reference doc.ents
    (character offsets and label)."""
    tp = fp = fn = 0
    for eg in examples:
        gold = {(e.start_char, e.end_char, e.label_) for e in eg.reference.ents}
        pred = {(e.start_char, e.end_char, e.label_) for e in eg.predicted.ents}
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    return _prf(tp, fp, fn)


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def markdown_table(results: Dict[str, Any]) -> str:
    """One row per evaluation: P/R/F1 (mean ± std over folds for CV) beside the paper."""
    paper = PAPER_RE_F1.get(results.get("dataset", ""), {})
    head = (
        f"### Relation extraction: {results.get('dataset')} ({results.get('protocol')})\n\n"
        f"Model: `{results.get('model')}`. Metric: {results.get('metric')}.\n\n"
        "| data set | P | R | F1 | paper BERT F1 | paper BioBERT F1 |\n|---|---|---|---|---|---|\n"
    )

    def cell(key: str) -> str:
        std = results.get(f"{key}_std")
        return _pct(results[key]) + ("" if std is None else f" ± {100 * std:.2f}")

    row = "| {d} | {p} | {r} | {f} | {pb} | {pbb} |\n".format(
        d=results.get("dataset"), p=cell("p"), r=cell("r"), f=cell("f"),
        pb=paper.get("bert", "-"), pbb=paper.get("biobert", "-"),
    )
    out = head + row
    base = results.get("all_positive_baseline")
    if base:
        out += "| baseline: every sentence positive | {p} | {r} | {f} | | |\n".format(
            p=_pct(base["p"]), r=_pct(base["r"]), f=_pct(base["f"]))
    if results.get("entities"):
        e = results["entities"]
        out += (
            f"\nEntities (predicted, exact offsets + label): P {_pct(e['p'])}, "
            f"R {_pct(e['r'])}, F1 {_pct(e['f'])}\n"
        )
    if results.get("folds"):
        out += "\n| fold | P | R | F1 |\n|---|---|---|---|\n"
        for k, fold in zip(results["fold_ids"], results["folds"]):
            out += f"| {k} | {_pct(fold['p'])} | {_pct(fold['r'])} | {_pct(fold['f'])} |\n"
    per_type = results.get("per_type") or {}
    if len(per_type) > 1:
        out += "\n| type | P | R | F1 |\n|---|---|---|---|\n"
        for label, row_ in per_type.items():
            out += f"| {label} | {_pct(row_['p'])} | {_pct(row_['r'])} | {_pct(row_['f'])} |\n"
    return out


@dataclass
class CVSettings:
    """What every fold of a cross-validation shares."""

    config: str = "configs/re_binary.cfg"
    base_model: str = "embedded"
    steps: int = 150
    # > 0: the budget is this many epochs over the fold's training file (steps unused)
    epochs: int = 0
    learning_rate: float = 1e-4
    # two or more rates: each fold trains at every rate on (1 - heldout_ratio)
    # of its training file, scores the held-out rest, and trains on the whole
    # file at the rate with the best held-out F1 (learning_rate is then unused)
    lr_grid: List[float] = field(default_factory=list)
    heldout_ratio: float = 0.1
    batch_size: int = 32
    seed: int = 0
    threads: int = 1
    jobs: int = 1
    gpu_id: int = -1
    overrides: Dict[str, str] = field(default_factory=dict)
    # score only the first N test sentences of each fold (0 = all): quick checks
    test_limit: int = 0


def _train_command(train: Path, folder: Path, s: CVSettings, learning_rate: float) -> List[str]:
    cmd = [
        sys.executable, "-m", "spacy", "train", s.config,
        "--output", str(folder / "train"),
        "--paths.train", str(train),
        # the folds have no dev split and no model selection happens (the last
        # weights are scored); spaCy's dev evaluations get one sentence
        "--paths.dev", str(train),
        "--paths.base_model", s.base_model,
        "--system.seed", str(s.seed),
        *budget_args(s.epochs, s.steps, last_weights=True),
        "--training.batcher.size", str(s.batch_size),
        "--training.optimizer.learn_rate.initial_rate", str(learning_rate),
        "--training.logger.progress_bar", "false",
        "--gpu-id", str(s.gpu_id),
    ]
    for key, value in s.overrides.items():
        cmd += [key if key.startswith("--") else f"--{key}", value]
    return cmd


def _evaluate_command(test: Path, folder: Path, s: CVSettings, limit: int) -> List[str]:
    return [
        sys.executable, "-m", "spacy_biobert", "evaluate-re", str(folder / "train" / "model-last"),
        str(test), "--format", "binary", "--output", str(folder / "evaluate.json"),
        "--gpu-id", str(s.gpu_id), "--limit", str(limit),
    ]


def split_heldout(train: Path, folder: Path, ratio: float, seed: int) -> Tuple[Path, Path]:
    """Write folder/fit.tsv and folder/heldout.tsv: the training file's
    sentences (one per line, ``sentence<TAB>label``) split at random (seeded),
    `ratio` of them held out, each part in the file's order. The training
    file itself is only read.

    RETURNS (Tuple[Path, Path]): the fit and held-out files.
    """
    # lines as the reader sees them (\n, \r\n or \r): str.splitlines would
    # also split a sentence at U+2028, U+0085 and other separators inside it
    with open_utf8(train) as f:
        lines = [raw.rstrip("\n") for raw in f if raw.strip()]
    if lines and lines[0].split("\t")[0] == "index":
        raise ValueError(Errors.E2670.format(path=train))
    n_held = max(1, round(ratio * len(lines)))
    if not 0 < ratio < 1 or n_held >= len(lines):
        raise ValueError(Errors.E2671.format(path=train, ratio=ratio, n=len(lines)))
    held = set(random.Random(seed).sample(range(len(lines)), n_held))
    folder.mkdir(parents=True, exist_ok=True)
    fit_path, held_path = folder / "fit.tsv", folder / "heldout.tsv"
    fit_path.write_text("".join(line + "\n" for i, line in enumerate(lines) if i not in held), encoding="utf8")
    held_path.write_text("".join(line + "\n" for i, line in enumerate(lines) if i in held), encoding="utf8")
    return fit_path, held_path


def choose_learning_rate(data: Path, folder: Path, s: CVSettings, echo: Any = None) -> Tuple[float, Dict[str, float]]:
    """The fold's rate: train at every rate of s.lr_grid on the fit part of
    its training file, score positive-class F1 on the held-out part, keep the
    best (the lower rate on a tie). Each rate's run is resumable.

    RETURNS (Tuple[float, Dict[str, float]]): the rate and the held-out F1 per rate.
    """
    select = folder / "lr_select"
    fit, held = split_heldout(data / "train.tsv", select, s.heldout_ratio, s.seed)
    scores: Dict[str, float] = {}
    for lr in sorted(s.lr_grid):
        sub = select / f"lr{lr:g}"
        done = sub / METRICS_FILE
        if done.exists():
            scores[f"{lr:g}"] = json.loads(done.read_text(encoding="utf8"))["f"]
            continue
        result, _, seconds = train_and_evaluate(
            sub, _train_command(fit, sub, s, lr), _evaluate_command(held, sub, s, 0), s.threads
        )
        write_metrics(done, {"learning_rate": lr, "p": result["p"], "r": result["r"], "f": result["f"],
                             "n_docs": result["n_docs"], "run_seconds": round(seconds, 1)})
        shutil.rmtree(sub / "train", ignore_errors=True)
        scores[f"{lr:g}"] = result["f"]
        if echo is not None:
            echo(f"  fold {data.name}: held-out F1 {100 * result['f']:.2f} at lr {lr:g}")
    best = max(sorted(s.lr_grid), key=lambda lr: (scores[f"{lr:g}"], -lr))
    return best, scores


def run_fold(data_dir: Path, fold: int, output_dir: Path, s: CVSettings, echo: Any = None) -> Dict[str, Any]:
    """Train and evaluate one fold (reused if done with the same settings)."""
    folder = output_dir / f"fold{fold}"
    done = folder / METRICS_FILE
    if done.exists():
        return reuse_metrics(done, asdict(s), _CV_KEYS)
    data = Path(data_dir) / str(fold)
    lr, heldout = s.learning_rate, None
    if len(s.lr_grid) > 1:
        lr, heldout = choose_learning_rate(data, folder, s, echo)
    scores, _, run_seconds = train_and_evaluate(
        folder, _train_command(data / "train.tsv", folder, s, lr),
        _evaluate_command(data / "test.tsv", folder, s, s.test_limit), s.threads,
    )
    metrics = {
        **asdict(s), "fold": fold, "chosen_learning_rate": lr, "heldout_f1": heldout,
        "p": scores["p"], "r": scores["r"], "f": scores["f"],
        "n_docs": scores["n_docs"], "n_gold_relations": scores["n_gold_relations"],
        "run_seconds": round(run_seconds, 1),
    }
    write_metrics(done, metrics)
    # the fold's weights are not needed for the figures; keep the disk small
    shutil.rmtree(folder / "train", ignore_errors=True)
    return metrics


def run_cv(
    data_dir: Path, output_dir: Path, settings: CVSettings, *, dataset: Optional[str] = None,
    folds: Optional[Sequence[int]] = None, echo: Any = print,
) -> Dict[str, Any]:
    """Run (or resume) the cross-validation; writes cv_results.json and .md.

    RETURNS (Dict[str, Any]): p, r, f (means over folds), their std, per fold.
    """
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    fold_ids = list(folds) if folds else list_folds(data_dir)
    if not fold_ids:
        raise FileNotFoundError(Errors.E2001.format(path=data_dir / "1"))
    output_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(output_dir, "re-cv"):
        for k in fold_ids:
            if (output_dir / f"fold{k}" / METRICS_FILE).exists():
                reuse_metrics(output_dir / f"fold{k}" / METRICS_FILE, asdict(settings), _CV_KEYS)  # fail early on a mismatch
        todo = [k for k in fold_ids if not (output_dir / f"fold{k}" / METRICS_FILE).exists()]
        echo(f"{len(fold_ids)} folds, {len(fold_ids) - len(todo)} already done, {len(todo)} to go "
             f"({settings.jobs} at a time, {_budget(settings)} each)")
        started = time.perf_counter()
        finished = 0

        def one(k: int) -> Dict[str, Any]:
            nonlocal finished
            metrics = run_fold(data_dir, k, output_dir, settings, echo)
            finished += 1
            left = (len(todo) - finished) * (time.perf_counter() - started) / finished
            echo(f"  fold {k}: P {100 * metrics['p']:.2f} R {100 * metrics['r']:.2f} "
                 f"F1 {100 * metrics['f']:.2f} ({metrics['run_seconds']:.0f} s; "
                 f"{finished}/{len(todo)}, about {left / 60:.0f} min left)")
            return metrics

        with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
            list(pool.map(one, todo))
        per_fold = [
            json.loads((output_dir / f"fold{k}" / METRICS_FILE).read_text(encoding="utf8"))
            for k in fold_ids
        ]
        avg = cv_average(per_fold)
        # the floor any classifier should beat: "1" for every sentence (R = 1)
        baseline = []
        for fold in per_fold:
            p = fold["n_gold_relations"] / fold["n_docs"] if fold["n_docs"] else 0.0
            baseline.append({"p": p, "r": 1.0, "f": 2 * p / (p + 1) if p else 0.0})
        name = dataset or data_dir.name
        results = {
            "task": "relation_extraction", "dataset": name,
            "protocol": f"{len(fold_ids)}-fold cross-validation, mean ± sample std over folds",
            "metric": "positive-class (label 1) P/R/F1 per fold, averaged over the folds",
            "model": f"{settings.config} on {settings.base_model}, {_budget(settings)}, last weights",
            **avg, "fold_ids": fold_ids, "settings": asdict(settings),
            "all_positive_baseline": cv_average(baseline),
        }
        if len(settings.lr_grid) > 1:
            results["chosen_learning_rates"] = [fold.get("chosen_learning_rate") for fold in per_fold]
        if name in PAPER_RE_F1:
            results["paper_f1"] = PAPER_RE_F1[name]
        (output_dir / "cv_results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
        table = markdown_table(results)
        (output_dir / "cv_results.md").write_text(table, encoding="utf8")
        echo("\n" + table)
        return results


def _budget(s: CVSettings) -> str:
    budget = budget_text(s.epochs, s.steps, s.batch_size)
    if len(s.lr_grid) > 1:
        rates = "/".join(f"{lr:g}" for lr in sorted(s.lr_grid))
        budget += f", peak lr chosen per fold among {rates} on {s.heldout_ratio:g} of its training file held out"
    else:
        budget += f", peak lr {s.learning_rate:g}"
    return budget


__all__ = [
    "ENTITIES_SPANS_KEY", "PAPER_RE_F1", "CVSettings", "evaluate_relations", "entity_prf", "markdown_table",
    "read_examples", "run_cv", "run_fold",
]
