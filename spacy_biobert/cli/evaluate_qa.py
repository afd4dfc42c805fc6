"""Evaluate a question-answering pipeline on the BioASQ factoid test batches
exactly as BioASQ / BioBERT do (PROTOCOL, QA): run it over every snippet of
every question, take each snippet's n-best answers with BioBERT's n-best
probabilities (``--probabilities nbest``, the default; ``product`` is the
earlier start x end probability), pool each question's answers over its
snippets (drop empty and >100-character answers, merge identical lower-cased
strings by summing their probabilities, keep the top 5), then strict
accuracy, lenient accuracy and MRR over all factoid questions of each golden
file (lower-cased exact match, as the official evaluator), per batch and per
year. Several scorings (``--probabilities nbest,product``) share one pass of
the encoder. Writes JSON and a markdown table."""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import spacy
import typer
from wasabi import msg

from ..apps.evaluate_qa import evaluate_bioasq, markdown_table
from ..apps.results import write_results
from .load import load_pipeline


def evaluate_qa_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    test_dir: Path = typer.Argument(..., help="Folder with BioASQ-test-factoid-<year>-<batch>.json and <YEAR>B<batch>_golden.json", exists=True, file_okay=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Metrics JSON file"),
    markdown: Optional[Path] = typer.Option(None, "--markdown", "-md", help="Markdown table file"),
    component: Optional[str] = typer.Option(None, "--component", help="Name of the QA component (default: the first biobert_qa)"),
    n_best: int = typer.Option(20, "--n-best", help="Answers per snippet before pooling"),
    null_answer: bool = typer.Option(False, "--null-answer/--no-null-answer", help="Let a snippet give no answer when [CLS] wins"),
    probabilities: str = typer.Option("nbest", "--probabilities", help="Answer probabilities pooled: nbest (BioBERT's n-best softmax) or product (start x end probability); comma-separated to score several from one pass (the first is the main result)"),
    batch_size: int = typer.Option(32, "--batch-size"),
    years: str = typer.Option("", "--years", help="Comma-separated years to score (e.g. 6b); default: all in the folder"),
    batches: str = typer.Option("", "--batches", help="Comma-separated batch numbers to score (e.g. 1; for quick checks); default: all"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
) -> None:
    """Score a QA pipeline on the BioASQ factoid test batches (the paper's metric)."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(model)
    results: Dict[str, Any] = {
        "task": "qa",
        "dataset": "bioasq_factoid",
        "model": str(model),
        "base_model": nlp.config["paths"].get("base_model"),
        "metric": "BioASQ factoid strict accuracy, lenient accuracy, MRR (fractions)",
    }
    results.update(evaluate_bioasq(
        nlp, test_dir, component=component, n_best=n_best, null_answer=null_answer,
        batch_size=batch_size, years=[y for y in years.split(",") if y.strip()] or None,
        batches=[int(b) for b in batches.split(",") if b.strip()] or None,
        probabilities=[p.strip() for p in probabilities.split(",") if p.strip()],
    ))
    write_results(results, markdown_table(results), output, markdown)


def qa_stats_command(
    paths: List[Path] = typer.Argument(..., help="SQuAD-format JSON files (SQuAD, BioASQ train)", exists=True, dir_okay=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Counts as JSON"),
    keep_unanswerable: bool = typer.Option(False, "--keep-unanswerable", help="Keep questions whose answer is not in the passage"),
) -> None:
    """Count what reading SQuAD-format files keeps, re-locates and drops."""
    from ..qa.squad import read_squad

    all_stats = []
    for path in paths:
        _, stats = read_squad(path, drop_unanswerable=not keep_unanswerable)
        msg.info(stats.summary())
        all_stats.append(stats.to_dict())
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(all_stats, indent=2) + "\n", encoding="utf8")
        msg.good(f"Wrote {output}")
