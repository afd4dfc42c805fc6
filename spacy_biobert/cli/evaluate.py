"""Evaluate an NER pipeline on a test file with the paper's metric (seqeval,
entity-level exact match) for token formats, or by character offsets on the
raw text for offset formats, writing JSON and a markdown table."""

from pathlib import Path
from typing import Any, Dict, Optional

import spacy
import typer

from ..apps.evaluate import evaluate_ner, evaluate_ner_offsets, markdown_table
from ..apps.results import write_results
from ..ner.corpus import OFFSET_FORMATS, detect_format
from .load import load_pipeline

# Lee et al. 2020, Table 3 (test F1): general-domain BERT -> BioBERT v1.1.
PAPER_NER_F1 = {
    "ncbi_disease": (85.63, 89.71),
    "bc5cdr_disease": (82.41, 87.15),
    "bc5cdr_chem": (91.16, 93.47),
    "bc2gm": (81.79, 84.72),
    "jnlpba": (74.94, 77.49),
    "linnaeus": (87.60, 88.24),
    "s800": (71.63, 74.06),
}


def evaluate_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    test_path: Path = typer.Argument(..., help="Test file (IOB TSV, CoNLL, .spacy, PubTator, BioC XML/JSON) or BRAT folder", exists=True),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Metrics JSON file"),
    markdown: Optional[Path] = typer.Option(None, "--markdown", "-md", help="Markdown table file"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Data set name (default: the file's folder)"),
    untyped: bool = typer.Option(True, "--untyped/--typed", help="--untyped (default): all entity types as one class, the paper's protocol; --typed: the type must match too. With several types in the file both scores are written"),
    batch_size: int = typer.Option(64, "--batch-size"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    limit: int = typer.Option(0, "--limit", help="Only the first N sentences (documents for offset formats; 0 = all; for quick checks)"),
    format: str = typer.Option("auto", "--format", "-f", help="auto, iob, conll, spacy (seqeval over sentences), pubtator, bioc-xml, bioc-json, brat (character offsets on the raw text)"),
) -> None:
    """Score an NER pipeline on a test file: seqeval over sentences (the paper's
    metric) for token formats, exact character offsets for offset formats."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    fmt = detect_format(test_path, format)
    nlp = load_pipeline(model)
    name = dataset or (test_path.name if test_path.is_dir() else test_path.parent.name)
    results: Dict[str, Any] = {
        "task": "ner",
        "dataset": name,
        "split": test_path.stem,
        "model": str(model),
        "base_model": nlp.config["paths"].get("base_model"),
        "metric": "seqeval entity-level exact match, micro P/R/F1 (default mode)"
        + (", all types as one (the paper's protocol)" if untyped else ", typed"),
    }
    if fmt in OFFSET_FORMATS:
        results["format"] = fmt
        results["metric"] = (
            "character offsets on the raw text, exact match of start and end"
            + (" (all types as one)" if untyped else " and type") + ", micro P/R/F1"
        )
        results.update(evaluate_ner_offsets(nlp, test_path, fmt, untyped=untyped, batch_size=batch_size, limit=limit))
    else:
        results.update(evaluate_ner(nlp, test_path, untyped=untyped, batch_size=batch_size, limit=limit, fmt=fmt))
    if name in PAPER_NER_F1 and fmt not in OFFSET_FORMATS:  # the paper's figures are seqeval
        bert, biobert = PAPER_NER_F1[name]
        results["paper_f1"] = {"bert": bert, "biobert": biobert}
    write_results(results, markdown_table(results), output, markdown)
