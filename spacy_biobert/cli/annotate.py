"""`spacy-biobert annotate` / `annotate-ray`: run a pipeline over a corpus, streaming, into JSONL."""

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..apps.annotate import FORMATS, AnnotateStats, annotate
from ..apps.annotate_output import is_stdout, output_kind
from ..errors import PACKAGE_PREFIX
from .load import load_pipeline

# the exit status of a run that finished but skipped bad records (1: an error stopped it)
EXIT_BAD_RECORDS = 3


def annotate_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    input_path: Path = typer.Argument(..., help="Input file or folder (.txt, .jsonl, PubMed .xml; .gz too)", exists=True),
    output: Path = typer.Argument(..., help="Output JSONL file (resumed if it exists; locked while written; never the input); '-' for stdout, /dev/null for none (neither resumed)", dir_okay=False, allow_dash=True),
    fmt: str = typer.Option("auto", "--format", "-f", help=f"Input format: auto, {', '.join(FORMATS)} (lines: one document per line; text: blank-line separated blocks)"),
    id_field: str = typer.Option("id", "--id-field", help="JSONL: the id field"),
    text_field: str = typer.Option("text", "--text-field", help="JSONL: the text field"),
    include_text: bool = typer.Option(False, "--text", help="Write each document's text into its record"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Documents per nlp.pipe batch"),
    n_process: int = typer.Option(1, "--n-process", "-n", help="Worker processes for nlp.pipe"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start OUTPUT afresh instead of resuming"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Also write the run's counts as JSON here"),
    questions: Optional[List[str]] = typer.Option(None, "--question", "-q", help="A question for a QA component (repeatable), asked of every document"),
) -> None:
    """Annotate a corpus with a pipeline: one JSONL record per document (id,
    entities, relations/answers when the pipeline sets them). Restarting the
    same command resumes: ids already in OUTPUT are skipped. Bad input records
    (and any document the pipeline fails on) are reported on stderr and
    skipped. OUTPUT '-' writes the records to stdout (and everything else to
    stderr). Exit status: 0 all done, 3 done but bad records were skipped,
    1 an error stopped the run."""
    import spacy

    try:  # the output rules, before the pipeline takes its time to load
        output_kind(output, input_path)
    except ValueError as e:
        _fail(e)
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(model)
    try:
        stats = annotate(
            nlp, input_path, output, fmt=fmt, id_field=id_field, text_field=text_field,
            include_text=include_text, batch_size=batch_size, n_process=n_process,
            overwrite=overwrite, questions=questions or (),
        )
    except ValueError as e:
        _fail(e)
    except BrokenPipeError:  # `annotate MODEL IN - | head`: the reader has gone
        if not is_stdout(output):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write("stdout was closed before the end: annotation stopped.\n")
        raise SystemExit(1) from None
    _finish(stats, output, summary, f"{stats.to_dict()['words_per_second']} words/s")


def _fail(error: ValueError) -> None:
    """One line for our own errors (no traceback); others go up."""
    if PACKAGE_PREFIX not in str(error):
        raise error
    msg.fail(str(error), exits=1)


def annotate_ray_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name, loadable on every Ray node"),
    input_path: Path = typer.Argument(..., help="Input file or folder (.txt, .jsonl, PubMed .xml; .gz too), read by this process", exists=True),
    output: Path = typer.Argument(..., help="Output JSONL file (resumed if it exists; locked while written; never the input), written by this process", dir_okay=False),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to use, from one of its nodes: 'auto' or HOST:6379 (not ray://); default: start a local Ray instance"),
    workers: int = typer.Option(2, "--workers", "-w", help="Annotating actors; each loads the pipeline once"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Documents per batch sent to a worker (one nlp.pipe batch)"),
    cpus_per_worker: float = typer.Option(1, "--cpus-per-worker", help="CPUs reserved per worker"),
    gpus_per_worker: float = typer.Option(0, "--gpus-per-worker", help="GPUs per worker (> 0: the pipeline runs on GPU; fractions share a GPU)"),
    num_cpus: Optional[int] = typer.Option(None, "--num-cpus", help="CPUs of the local Ray instance (default: all); not with --address"),
    preserve_order: bool = typer.Option(False, "--preserve-order", help="Write the records in input order (slower)"),
    fmt: str = typer.Option("auto", "--format", "-f", help=f"Input format: auto, {', '.join(FORMATS)} (lines: one document per line; text: blank-line separated blocks)"),
    id_field: str = typer.Option("id", "--id-field", help="JSONL: the id field"),
    text_field: str = typer.Option("text", "--text-field", help="JSONL: the text field"),
    include_text: bool = typer.Option(False, "--text", help="Write each document's text into its record"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start OUTPUT afresh instead of resuming"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show Ray Data's progress bars"),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Also write the run's counts as JSON here"),
    questions: Optional[List[str]] = typer.Option(None, "--question", "-q", help="A question for a QA component (repeatable), asked of every document"),
) -> None:
    """Annotate a corpus on Ray Data: the same records as `annotate`, with a
    pool of Ray actors that each load the pipeline once. Local by default;
    --address runs on an existing cluster. Restarting the same command
    resumes: ids already in OUTPUT are skipped. Records come in any order
    (--preserve-order keeps the input order). Bad input records are reported
    on stderr and skipped. Exit status: 0 all done, 3 done but bad records
    were skipped, 1 an error stopped the run."""
    from ..apps.ray_annotate import annotate_ray

    try:
        stats = annotate_ray(
            model, input_path, output, input_format=fmt, address=address, num_workers=workers,
            batch_size=batch_size, num_cpus_per_worker=cpus_per_worker,
            num_gpus_per_worker=gpus_per_worker, num_cpus=num_cpus,
            preserve_order=preserve_order, id_field=id_field, text_field=text_field,
            include_text=include_text, overwrite=overwrite, show_progress=progress,
        )
    except (ImportError, ValueError) as e:
        if PACKAGE_PREFIX not in str(e):  # ours (no Ray, bad option): no traceback
            raise
        msg.fail(str(e), exits=1)
    counts = stats.to_dict()
    _finish(
        stats, output, summary,
        f"{counts['seconds']} s, {counts['docs_per_second']} docs/s, "
        f"{counts['words_per_second']} words/s with {stats.workers} workers",
    )


def _finish(stats: AnnotateStats, output: Path, summary: Optional[Path], speed: str) -> None:
    """The closing lines of a run (on stderr when the records went to stdout), and the --summary file."""
    counts = stats.to_dict()
    to_stderr = is_stdout(output)
    with contextlib.redirect_stdout(sys.stderr) if to_stderr else contextlib.nullcontext():
        if stats.truncated_bytes:
            msg.warn(f"Truncated a partial last line ({stats.truncated_bytes} bytes) of {output}")
        msg.info(
            f"{counts['annotated']} documents annotated, {counts['done_before']} already "
            f"in {'stdout' if to_stderr else output}, {counts['bad']} bad records skipped; {speed}"
        )
    if summary:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps(counts, indent=2) + "\n", encoding="utf8")
    if stats.bad:
        sys.stderr.write(f"{stats.bad} bad records were skipped (see the messages above).\n")
        raise typer.Exit(code=EXIT_BAD_RECORDS)
