"""`spacy-biobert evaluate-re` and `spacy-biobert re-cv`: relation extraction
with the paper's protocol (see spacy_biobert.apps.re_eval)."""

from pathlib import Path
from typing import Any, Dict, List, Optional

import spacy
import typer
from wasabi import msg

from ..apps.re_eval import (
    PAPER_RE_F1,
    CVSettings,
    evaluate_relations,
    markdown_table,
    read_examples,
    run_cv,
)
from ..apps.results import write_results
from .errors_line import one_line_errors
from .load import load_pipeline


def _write(results: Dict[str, Any], output: Optional[Path], markdown: Optional[Path]) -> None:
    write_results(results, markdown_table(results), output, markdown)


def evaluate_re_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    data_path: Path = typer.Argument(..., help="GAD / EU-ADR test.tsv, or a ChemProt split folder", exists=True),
    fmt: str = typer.Option("binary", "--format", "-f", help="binary (GAD, EU-ADR) or chemprot"),
    predicted_entities: bool = typer.Option(
        False, "--predicted-entities",
        help="Run the whole pipeline (NER included) on the raw texts instead of giving it the gold entities",
    ),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Data set name for the table"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Metrics JSON file"),
    markdown: Optional[Path] = typer.Option(None, "--markdown", "-md", help="Markdown table file"),
    limit: int = typer.Option(0, "--limit", help="Only the first N examples (0 = all)"),
    batch_size: int = typer.Option(32, "--batch-size", help="Docs per batch"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
) -> None:
    """Score a relation extraction pipeline with the paper's metric."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(model)
    examples = read_examples(nlp, data_path, fmt, limit=limit)
    name = dataset or (data_path.parent.parent.name if fmt == "binary" else "chemprot")
    results: Dict[str, Any] = {
        "task": "relation_extraction",
        "dataset": name,
        "data": str(data_path),
        "protocol": "predicted entities (end to end)" if predicted_entities else "gold entities",
        "model": str(model),
        "metric": (
            "positive-class P/R/F1" if fmt == "binary"
            else "micro P/R/F1 over CPR:3, 4, 5, 6, 9"
        ),
    }
    results.update(evaluate_relations(nlp, examples, predicted_entities=predicted_entities, batch_size=batch_size))
    if name in PAPER_RE_F1:
        results["paper_f1"] = PAPER_RE_F1[name]
    _write(results, output, markdown)


def re_cv_command(
    data_dir: Path = typer.Argument(..., help="Data set folder with folds 1..10 (GAD or EU-ADR)", exists=True, file_okay=False),
    output_dir: Path = typer.Argument(..., help="Folder for the folds' runs and cv_results.{json,md}"),
    config: str = typer.Option("configs/re_binary.cfg", "--config", "-c"),
    base_model: str = typer.Option("embedded", "--base-model"),
    steps: int = typer.Option(150, "--steps", help="Fine-tuning steps per fold"),
    epochs: int = typer.Option(0, "--epochs", help="> 0: the budget is this many epochs over each fold's training file instead of --steps"),
    learning_rate: List[str] = typer.Option(["0.0001"], "--lr", help="Peak learning rate; several (repeatable or comma-separated): chosen per fold on a held-out part of its training file"),
    heldout_ratio: float = typer.Option(0.1, "--heldout-ratio", help="Share of each fold's training file held out to choose among several --lr"),
    batch_size: int = typer.Option(32, "--batch-size", help="Sentences per step"),
    seed: int = typer.Option(0, "--seed"),
    folds: str = typer.Option("", "--folds", help="Comma-separated fold numbers (default: all)"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Data set name (default: the folder's)"),
    jobs: int = typer.Option(1, "--jobs", help="Folds at a time"),
    threads: int = typer.Option(0, "--threads", help="torch threads per fold (0 = default)"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
    test_limit: int = typer.Option(0, "--test-limit", help="Score only the first N test sentences of each fold (0 = all; for quick checks)"),
) -> None:
    """10-fold cross-validation of the relation extractor (GAD, EU-ADR); resumable."""
    try:
        rates = [float(x) for item in learning_rate for x in item.split(",") if x.strip()]
    except ValueError:
        msg.fail(f"--lr takes numbers, got {learning_rate!r}", exits=1)
    if not rates:
        msg.fail("--lr needs at least one rate", exits=1)
    settings = CVSettings(
        config=config, base_model=base_model, steps=steps, epochs=epochs, learning_rate=rates[0],
        lr_grid=sorted(set(rates)) if len(set(rates)) > 1 else [], heldout_ratio=heldout_ratio,
        batch_size=batch_size, seed=seed, threads=threads, jobs=jobs, gpu_id=gpu_id,
        test_limit=test_limit,
    )
    fold_ids: List[int] = [int(k) for k in folds.split(",") if k.strip()]
    with one_line_errors():
        run_cv(data_dir, output_dir, settings, dataset=dataset, folds=fold_ids or None, echo=msg.info)
