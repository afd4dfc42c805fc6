"""`spacy-biobert task-text`: a task's training texts as a pre-training corpus."""

from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ..apps.task_text import write_task_text
from .errors_line import one_line_errors


def task_text_command(
    inputs: List[Path] = typer.Argument(None, help="Training files (NER in any supported format, or GAD / EU-ADR with --format re-binary)", exists=True, dir_okay=False),
    output: Path = typer.Option(..., "--output", "-o", help="Plain-text corpus to write (for `pretrain --add-corpus`)"),
    datasets: str = typer.Option("", "--datasets", help="Comma-separated data sets: adds DATA_DIR/<data set>/train.tsv for each"),
    data_dir: Path = typer.Option(Path("assets/ner"), "--data-dir", help="Folder of the --datasets"),
    fmt: str = typer.Option("auto", "--format", "-f", help="auto (NER files) or re-binary (GAD / EU-ADR)"),
    sentences_per_document: int = typer.Option(10, "--sentences-per-document", help="Sentence-level files: consecutive sentences per document"),
) -> None:
    """Write the texts of a task's training files as a plain-text corpus, one
    document per block (labels dropped), for task-adaptive pre-training:
    `spacy-biobert pretrain CORPUS OUT --add-corpus TASK_TEXT`. Use training
    splits only: dev and test texts would leak into the model."""
    files = list(inputs or []) + [data_dir / d.strip() / "train.tsv" for d in datasets.split(",") if d.strip()]
    if not files:
        msg.fail("No training files: give files or --datasets", exits=1)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        msg.fail(f"Not found: {', '.join(missing)}", exits=1)
    with one_line_errors():
        counts = write_task_text(files, output, fmt, sentences_per_document)
    msg.good(f"Wrote {counts['documents']} documents ({counts['characters']} characters) to {output}")
