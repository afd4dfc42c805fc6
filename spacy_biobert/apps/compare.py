"""The paper's central experiment at any scale: NER fine-tuned from several
start points (a general-domain BERT, its continued pre-training, checkpoints
along the way) with identical settings and seeds, scored on the test split.

Every run is ``spacy train`` + ``spacy-biobert evaluate`` in a child process,
in its own folder ``<output>/runs/<data set>/<start>/seed<seed>``. A run is
done when its ``metrics.json`` exists; started again, the experiment skips the
runs that are done and redoes only an unfinished one (``spacy train`` cannot
resume a fine-tune, so an interrupted run loses at most that run's work).

The budget is the same for every start point: a number of fine-tuning steps
(``max_epochs = 0``), or with ``epochs > 0`` that many passes over the
training file (the schedule's length counted from the data); either way the
learning rate warms up and decays to zero over the run. ``select = "last"``
scores the last weights, so the dev split plays no part (the training loop's
step-0 dev evaluation is cut to one sentence); ``select = "dev"`` scores
``model-best``, chosen on the whole dev split at the evaluations of the run
(the config's ``[initialize.after_init]`` sets how many), never on test.
"""

import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from ..errors import Errors
from .file_lock import folder_lock
from .paired import mean_std, paired_difference
from .runs import (
    budget_args,
    budget_text,
    reuse_metrics,
    train_and_evaluate,
    write_metrics,
)

METRICS_FILE = "metrics.json"


RESULTS_NAME = "compare_results"


# what a finished run must share with the experiment to be reused by it
_RUN_KEYS = ("steps", "epochs", "select", "learning_rate", "batch_size", "threads", "eval_split", "config", "overrides", "untyped", "eval_limit")


@dataclass
class CompareSettings:
    """What every run of the experiment shares."""

    config: str = "configs/ner.cfg"
    data_dir: str = "assets/ner"
    steps: int = 150
    # > 0: the budget is this many epochs over the training file (steps unused)
    epochs: int = 0
    # "last": score the last weights; "dev": score model-best, chosen on dev
    select: str = "last"
    learning_rate: float = 1e-4
    batch_size: int = 16
    threads: int = 1
    jobs: int = 1
    gpu_id: int = -1
    # "test" for the results; "dev" to choose settings (model selection uses dev only)
    eval_split: str = "test"
    overrides: Dict[str, str] = field(default_factory=dict)
    # the paper's protocol: every set trained and scored with all entity types
    # as one class (IOBCorpus.v1 untyped, `spacy-biobert evaluate --untyped`)
    untyped: bool = True
    # score only the first N sentences of the split (0 = all): quick checks
    eval_limit: int = 0


@dataclass(frozen=True)
class Run:
    dataset: str
    start: str
    base_model: str
    seed: int

    def folder(self, output_dir: Path) -> Path:
        return output_dir / "runs" / self.dataset / self.start / f"seed{self.seed}"


def parse_starts(specs: Sequence[str]) -> List[Tuple[str, str]]:
    """`label=model` pairs (a bare model is its own label), in order.

    RETURNS (List[Tuple[str, str]]): (label, base model) pairs.
    """
    starts: List[Tuple[str, str]] = []
    for spec in specs:
        label, sep, model = spec.partition("=")
        if not sep:
            label, model = Path(spec).name or spec, spec
        if not label or not model:
            raise ValueError(Errors.E2604.format(spec=spec))
        if label in {s[0] for s in starts}:
            raise ValueError(Errors.E2605.format(label=label))
        starts.append((label, model))
    return starts


def plan_runs(datasets: Sequence[str], starts: Sequence[Tuple[str, str]], seeds: Sequence[int]) -> List[Run]:
    """All runs, ordered so that each seed's start points come together (a
    partial experiment compares like with like)."""
    return [
        Run(dataset=d, start=label, base_model=model, seed=seed)
        for seed in seeds for d in datasets for label, model in starts
    ]


def train_command(run: Run, settings: CompareSettings, folder: Path) -> List[str]:
    data = Path(settings.data_dir) / run.dataset
    cmd = [
        sys.executable, "-m", "spacy", "train", settings.config,
        "--output", str(folder / "train"),
        "--paths.train", str(data / "train.tsv"),
        "--paths.dev", str(data / "dev.tsv"),
        "--paths.base_model", run.base_model,
        "--system.seed", str(run.seed),
        *budget_args(settings.epochs, settings.steps, last_weights=settings.select == "last"),
        "--training.batcher.size", str(settings.batch_size),
        "--training.optimizer.learn_rate.initial_rate", str(settings.learning_rate),
        "--training.logger.progress_bar", "false",
        "--corpora.train.untyped", _bool(settings.untyped),
        "--corpora.dev.untyped", _bool(settings.untyped),
        "--gpu-id", str(settings.gpu_id),
    ]
    for key, value in settings.overrides.items():
        cmd += [key if key.startswith("--") else f"--{key}", value]
    return cmd


def evaluate_command(run: Run, settings: CompareSettings, folder: Path) -> List[str]:
    test = Path(settings.data_dir) / run.dataset / f"{settings.eval_split}.tsv"
    return [
        sys.executable, "-m", "spacy_biobert", "evaluate", str(folder / "train" / _scored_model(settings)),
        str(test), "--dataset", run.dataset, "--output", str(folder / "evaluate.json"),
        "--gpu-id", str(settings.gpu_id), "--untyped" if settings.untyped else "--typed",
        "--limit", str(settings.eval_limit),
    ]


def _scored_model(settings: CompareSettings) -> str:
    return "model-best" if settings.select == "dev" else "model-last"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def execute_run(run: Run, settings: CompareSettings, output_dir: Path) -> Dict[str, Any]:
    """Train and evaluate one run (skipped if done); RETURNS its metrics."""
    folder = run.folder(output_dir)
    done = folder / METRICS_FILE
    if done.exists():
        wanted = {**asdict(settings), **asdict(run)}
        return reuse_metrics(done, wanted, _RUN_KEYS + ("base_model",))
    scores, train_seconds, run_seconds = train_and_evaluate(
        folder, train_command(run, settings, folder), evaluate_command(run, settings, folder), settings.threads
    )
    metrics = {
        **asdict(run),
        "steps": settings.steps,
        "epochs": settings.epochs,
        "select": settings.select,
        "learning_rate": settings.learning_rate,
        "batch_size": settings.batch_size,
        "config": settings.config,
        "overrides": settings.overrides,
        "untyped": settings.untyped,
        "precision": scores["precision"],
        "recall": scores["recall"],
        "f1": scores["f1"],
        "n_sentences": scores["n_sentences"],
        "eval_split": settings.eval_split,
        "eval_limit": settings.eval_limit,
        "train_seconds": None if train_seconds is None else round(train_seconds, 1),
        "run_seconds": round(run_seconds, 1),
        "threads": settings.threads,
    }
    if settings.select == "dev":
        best = folder / "train" / "model-best" / "meta.json"
        performance = json.loads(best.read_text(encoding="utf8")).get("performance", {})
        metrics["dev_f1"] = performance.get("ents_f")
    write_metrics(done, metrics)
    # the weights that were not scored (a run's folder keeps the scored model)
    unused = "model-best" if _scored_model(settings) == "model-last" else "model-last"
    shutil.rmtree(folder / "train" / unused, ignore_errors=True)
    return metrics


def run_experiment(
    output_dir: Path,
    datasets: Sequence[str],
    starts: Sequence[Tuple[str, str]],
    seeds: Sequence[int],
    settings: CompareSettings,
    *,
    echo: Any = print,
    name: str = RESULTS_NAME,
) -> Dict[str, Any]:
    """Run (or resume) every run, then aggregate; writes <name>.json and
    <name>.md in output_dir. Runs already in output_dir (same data set, start
    label, seed and settings) are reused, so a second table (e.g. a curve
    that shares its end points with the main table) costs only its new runs.

    RETURNS (Dict[str, Any]): the aggregated results.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for d in datasets:
        for split in ("train", "dev", "test"):
            path = Path(settings.data_dir) / d / f"{split}.tsv"
            if not path.exists():
                raise FileNotFoundError(Errors.E2001.format(path=path))
    with folder_lock(output_dir, "compare"):
        runs = plan_runs(datasets, starts, seeds)
        (output_dir / f"{name}_settings.json").write_text(json.dumps({
            "settings": asdict(settings), "datasets": list(datasets), "starts": dict(starts),
            "seeds": list(seeds)}, indent=2) + "\n", encoding="utf8")
        for r in runs:
            if (r.folder(output_dir) / METRICS_FILE).exists():
                reuse_metrics(  # fail early on a mismatch
                    r.folder(output_dir) / METRICS_FILE, {**asdict(settings), **asdict(r)}, _RUN_KEYS + ("base_model",)
                )
        todo = [r for r in runs if not (r.folder(output_dir) / METRICS_FILE).exists()]
        echo(f"{len(runs)} runs, {len(runs) - len(todo)} already done, {len(todo)} to go "
             f"({settings.jobs} at a time, "
             f"{budget_text(settings.epochs, settings.steps, settings.batch_size)} each)")
        started = time.perf_counter()
        finished = 0

        def one(run: Run) -> Dict[str, Any]:
            nonlocal finished
            echo(f"  start  {run.dataset} / {run.start} / seed {run.seed}")
            metrics = execute_run(run, settings, output_dir)
            finished += 1
            elapsed = time.perf_counter() - started
            left = (len(todo) - finished) * elapsed / finished
            echo(f"  done   {run.dataset} / {run.start} / seed {run.seed}: F1 {100 * metrics['f1']:.2f} "
                 f"({metrics['run_seconds']:.0f} s; {finished}/{len(todo)}, about {left / 60:.0f} min left)")
            return metrics

        with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
            list(pool.map(one, todo))
        per_run = [json.loads((r.folder(output_dir) / METRICS_FILE).read_text(encoding="utf8")) for r in runs]
        results = aggregate(per_run, datasets, [s[0] for s in starts])
        results["settings"] = asdict(settings)
        results["starts"] = dict(starts)
        results["seeds"] = list(seeds)
        results["runs"] = per_run
        (output_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
        table = markdown_table(results)
        (output_dir / f"{name}.md").write_text(table, encoding="utf8")
        echo("\n" + table)
        return results


def aggregate(per_run: Sequence[Dict[str, Any]], datasets: Sequence[str], starts: Sequence[str]) -> Dict[str, Any]:
    """Mean ± std (over seeds) of P/R/F1 per data set and start point, and the
    paired F1 difference (same seeds) of every other start point against the
    first one, with its 95% confidence interval."""
    table: Dict[str, Dict[str, Any]] = {}
    paired: Dict[str, Dict[str, Any]] = {}
    for d in datasets:
        table[d] = {}
        for s in starts:
            rows = [r for r in per_run if r["dataset"] == d and r["start"] == s]
            if not rows:
                continue
            cell: Dict[str, Any] = {"n_seeds": len(rows)}
            for key in ("precision", "recall", "f1"):
                m, sd = mean_std([100 * r[key] for r in rows])
                cell[key] = {"mean": round(m, 2), "std": None if sd is None else round(sd, 2),
                             "values": [round(100 * r[key], 2) for r in rows]}
            table[d][s] = cell
        for s in starts[1:]:
            pairs = _paired(per_run, d, starts[0], s)
            if pairs:
                stats = paired_difference([x for x, _ in pairs], [y for _, y in pairs])
                paired.setdefault(d, {})[s] = {
                    k: (round(v, 2) if isinstance(v, float) else v) for k, v in stats.items()
                }
    return {"table": table, "paired": paired, "datasets": list(datasets), "start_labels": list(starts)}


def _cell(c: Dict[str, Any]) -> str:
    return f"{c['mean']:.2f}" + ("" if c["std"] is None else f" ± {c['std']:.2f}")


def _budget(settings: Dict[str, Any]) -> str:
    budget = budget_text(settings.get("epochs") or 0, settings.get("steps"), settings.get("batch_size"))
    chosen = ("model-best (chosen on the whole dev split) is scored" if settings.get("select") == "dev"
              else "the last weights are scored")
    return f"Fine-tuning budget: {budget}, peak learning rate {settings.get('learning_rate')}; {chosen}."


def markdown_table(results: Dict[str, Any]) -> str:
    """Rows = data sets, columns = start points (P / R / F1, mean ± std), then
    the paired F1 differences against the first start point."""
    starts = results["start_labels"]
    settings = results.get("settings", {})
    head = "| data set | " + " | ".join(f"{s} P | {s} R | {s} F1" for s in starts) + " |"
    lines = [
        f"### NER {settings.get('eval_split', 'test')} scores by start point "
        "(seqeval entity-level, mean ± sample std over seeds)",
        "",
        _budget(settings) + f" Seeds: {', '.join(map(str, results.get('seeds', [])))}."
        + (" Entity types: all as one class (the paper's untyped protocol)." if settings.get("untyped") else ""),
        "",
        head,
        "|---|" + "---|" * (3 * len(starts)),
    ]
    for d in results["datasets"]:
        cells = []
        for s in starts:
            c = results["table"].get(d, {}).get(s)
            cells += [_cell(c["precision"]), _cell(c["recall"]), _cell(c["f1"])] if c else ["-"] * 3
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    paired = results.get("paired")
    if paired is None:  # results written before the paired statistics
        paired = aggregate(results.get("runs", []), results["datasets"], starts).get("paired", {})
    if len(starts) >= 2 and paired:
        a = starts[0]
        lines += [
            "",
            f"Paired by seed, against `{a}`: mean F1 difference ± sample std of the per-seed differences, "
            "the 95% confidence interval of the mean (Student's t, n − 1 degrees of freedom), and the seeds "
            "where the start point is better.",
            "",
            "| data set | start point | F1 − " + a + " | 95% CI | better / seeds |",
            "|---|---|---|---|---|",
        ]
        for d in results["datasets"]:
            for s in starts[1:]:
                p = paired.get(d, {}).get(s)
                if not p:
                    continue
                ci = "-" if p["ci_low"] is None else f"[{p['ci_low']:+.2f}, {p['ci_high']:+.2f}]"
                lines.append(f"| {d} | {s} | {p['mean']:+.2f}" + ("" if p["std"] is None else f" ± {p['std']:.2f}")
                             + f" | {ci} | {p['b_better']}/{p['n']} |")
    return "\n".join(lines) + "\n"


def _paired(runs: Sequence[Dict[str, Any]], dataset: str, a: str, b: str) -> List[Tuple[float, float]]:
    by = {(r["start"], r["seed"]): 100 * r["f1"] for r in runs if r["dataset"] == dataset}
    return [(by[(a, s)], by[(b, s)]) for (lbl, s) in sorted(by) if lbl == a and (b, s) in by]
