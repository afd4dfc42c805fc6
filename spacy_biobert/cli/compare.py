"""`spacy-biobert compare`: NER fine-tuned from several start points (e.g. a
general BERT and its continued pre-training), same settings and seeds."""

from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ..compare import CompareSettings, parse_starts, run_experiment

_D = CompareSettings()


def compare_command(
    output_dir: Path = typer.Argument(..., help="Runs, then compare_results.json/.md; run again to resume"),
    start: List[str] = typer.Option(..., "--start", "-s", help="LABEL=MODEL (repeatable), e.g. bert=embedded biobert=training/pretrain/model"),
    dataset: List[str] = typer.Option(..., "--dataset", "-d", help="NER data set under DATA_DIR (repeatable)"),
    seed: List[int] = typer.Option([0, 1, 2], "--seed", help="Fine-tuning seeds (repeatable)"),
    steps: int = typer.Option(_D.steps, "--steps", help="Fine-tuning steps per run: the budget, the same for every start"),
    learning_rate: float = typer.Option(_D.learning_rate, "--lr"),
    batch_size: int = typer.Option(_D.batch_size, "--batch-size"),
    config: Path = typer.Option(Path(_D.config), "--config", "-c", exists=True, dir_okay=False),
    data_dir: Path = typer.Option(Path(_D.data_dir), "--data-dir", help="Folder with <data set>/{train,dev,test}.tsv"),
    jobs: int = typer.Option(_D.jobs, "--jobs", "-j", help="Runs at a time"),
    threads: int = typer.Option(_D.threads, "--threads", help="Torch threads per run (0: torch's default); keep it fixed across an experiment"),
    gpu_id: int = typer.Option(_D.gpu_id, "--gpu-id"),
    override: List[str] = typer.Option([], "--override", help="Extra spacy train override KEY=VALUE (repeatable), e.g. training.dropout=0.2"),
) -> None:
    """Fine-tune NER from every start point on every data set with every seed
    (identical settings), score the last weights on the test split, and write
    the table (rows: data sets; columns: start points; P/R/F1 mean ± std)."""
    overrides = {}
    for item in override:
        key, sep, value = item.partition("=")
        if not sep:
            msg.fail(f"--override needs KEY=VALUE, got {item!r}", exits=1)
        overrides[key] = value
    try:
        starts = parse_starts(start)
    except ValueError as e:
        msg.fail(str(e), exits=1)
    settings = CompareSettings(
        config=str(config), data_dir=str(data_dir), steps=steps, learning_rate=learning_rate,
        batch_size=batch_size, threads=threads, jobs=jobs, gpu_id=gpu_id, overrides=overrides,
    )
    run_experiment(output_dir, dataset, starts, seed, settings, echo=typer.echo)
    msg.good(f"Wrote {output_dir / 'compare_results.json'} and {output_dir / 'compare_results.md'}")
