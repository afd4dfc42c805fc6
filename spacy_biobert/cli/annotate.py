"""`spacy-biobert annotate`: run a pipeline over a corpus, streaming, into JSONL."""

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..annotate import FORMATS, annotate


def annotate_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    input_path: Path = typer.Argument(..., help="Input file or folder (.txt, .jsonl, PubMed .xml; .gz too)", exists=True),
    output: Path = typer.Argument(..., help="Output JSONL file (resumed if it exists)", dir_okay=False),
    fmt: str = typer.Option("auto", "--format", "-f", help=f"Input format: auto, {', '.join(FORMATS)} (lines: one document per line; text: blank-line separated blocks)"),
    id_field: str = typer.Option("id", "--id-field", help="JSONL: the id field"),
    text_field: str = typer.Option("text", "--text-field", help="JSONL: the text field"),
    include_text: bool = typer.Option(False, "--text", help="Write each document's text into its record"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Documents per nlp.pipe batch"),
    n_process: int = typer.Option(1, "--n-process", "-n", help="Worker processes for nlp.pipe"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start OUTPUT afresh instead of resuming"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Also write the run's counts as JSON here"),
) -> None:
    """Annotate a corpus with a pipeline: one JSONL record per document (id,
    entities, relations/answers when the pipeline sets them). Restarting the
    same command resumes: ids already in OUTPUT are skipped. Bad input records
    are reported on stderr and skipped."""
    import spacy

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    stats = annotate(
        nlp, input_path, output, fmt=fmt, id_field=id_field, text_field=text_field,
        include_text=include_text, batch_size=batch_size, n_process=n_process,
        overwrite=overwrite,
    )
    counts = stats.to_dict()
    if stats.truncated_bytes:
        msg.warn(f"Truncated a partial last line ({stats.truncated_bytes} bytes) of {output}")
    msg.info(
        f"{counts['annotated']} documents annotated, {counts['done_before']} already "
        f"in {output}, {counts['bad']} bad records skipped; "
        f"{counts['words_per_second']} words/s"
    )
    if summary:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps(counts, indent=2) + "\n", encoding="utf8")
    if stats.bad:
        sys.stderr.write(f"{stats.bad} bad records were skipped (see the messages above).\n")
