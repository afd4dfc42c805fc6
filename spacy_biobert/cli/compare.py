"""`spacy-biobert compare`: NER fine-tuned from several start points (e.g. a
general BERT and its continued pre-training), same settings and seeds."""

from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ..apps.compare import CompareSettings, parse_starts, run_experiment
from .errors_line import one_line_errors

_D = CompareSettings()


def compare_command(
    output_dir: Path = typer.Argument(..., help="Runs, then compare_results.json/.md; run again to resume"),
    start: List[str] = typer.Option(..., "--start", "-s", help="LABEL=MODEL (repeatable), e.g. bert=embedded biobert=training/pretrain/model"),
    dataset: List[str] = typer.Option(..., "--dataset", "-d", help="NER data set under DATA_DIR (repeatable or comma-separated)"),
    seed: List[str] = typer.Option(["0,1,2"], "--seed", help="Fine-tuning seeds (repeatable or comma-separated)"),
    checkpoints: str = typer.Option("", "--checkpoints", help="FOLDER:STEP,STEP,... adds FOLDER/checkpoint-STEP as start STEP (an F1-vs-pre-training-steps curve)"),
    steps: int = typer.Option(_D.steps, "--steps", help="Fine-tuning steps per run: the budget, the same for every start"),
    epochs: int = typer.Option(_D.epochs, "--epochs", help="> 0: the budget is this many epochs over the training file instead of --steps"),
    select: str = typer.Option(_D.select, "--select", help="last: score the last weights; dev: score model-best, chosen on the whole dev split"),
    learning_rate: float = typer.Option(_D.learning_rate, "--lr"),
    batch_size: int = typer.Option(_D.batch_size, "--batch-size"),
    config: Path = typer.Option(Path(_D.config), "--config", "-c", exists=True, dir_okay=False),
    data_dir: Path = typer.Option(Path(_D.data_dir), "--data-dir", help="Folder with <data set>/{train,dev,test}.tsv"),
    jobs: int = typer.Option(_D.jobs, "--jobs", "-j", help="Runs at a time"),
    threads: int = typer.Option(_D.threads, "--threads", help="Torch threads per run (0: torch's default); keep it fixed across an experiment"),
    gpu_id: int = typer.Option(_D.gpu_id, "--gpu-id"),
    eval_split: str = typer.Option(_D.eval_split, "--eval-split", help="test (the results) or dev (to choose settings)"),
    eval_limit: int = typer.Option(_D.eval_limit, "--eval-limit", help="Score only the first N sentences of the split (0 = all; for quick checks)"),
    name: str = typer.Option("compare_results", "--name", help="Results file names: NAME.json and NAME.md in OUTPUT_DIR"),
    untyped: bool = typer.Option(_D.untyped, "--untyped/--typed", help="--untyped (default): train and score with all entity types as one class, the paper's protocol; --typed: keep the types"),
    override: List[str] = typer.Option([], "--override", help="Extra spacy train override KEY=VALUE (repeatable), e.g. training.dropout=0.2"),
) -> None:
    """Fine-tune NER from every start point on every data set with every seed
    (identical settings), score the last weights (or, with --select dev, the
    best on dev) on the test split, and write the table (rows: data sets;
    columns: start points; P/R/F1 mean ± std) and the paired F1 differences
    against the first start with their 95% confidence intervals."""
    overrides = {}
    for item in override:
        key, sep, value = item.partition("=")
        if not sep:
            msg.fail(f"--override needs KEY=VALUE, got {item!r}", exits=1)
        overrides[key] = value
    if select not in ("last", "dev"):
        msg.fail(f"--select is last or dev, got {select!r}", exits=1)
    if epochs < 0:
        msg.fail(f"--epochs is 0 (use --steps) or more, got {epochs}", exits=1)
    if eval_split not in ("test", "dev"):
        msg.fail(f"--eval-split is test or dev, got {eval_split!r}", exits=1)
    specs = list(start[:1])
    if checkpoints:
        folder, sep, steps_list = checkpoints.rpartition(":")
        if not sep or not folder:
            msg.fail(f"--checkpoints needs FOLDER:STEP,STEP,..., got {checkpoints!r}", exits=1)
        for step in steps_list.split(","):
            ckpt = Path(folder) / f"checkpoint-{step.strip()}"
            if not ckpt.exists():
                msg.fail(f"No checkpoint {ckpt} (was the pre-training run with --save-total-limit 0?)", exits=1)
            specs.append(f"{step.strip()}={ckpt}")
    specs += list(start[1:])  # columns: the first start, the checkpoints, the other starts
    try:
        starts = parse_starts(specs)
    except ValueError as e:
        msg.fail(str(e), exits=1)
    if all(label.isdigit() for label, _ in starts):
        starts.sort(key=lambda s: int(s[0]))  # a curve: columns in pre-training steps
    datasets = [d for item in dataset for d in item.split(",") if d]
    try:
        seeds = [int(x) for item in seed for x in item.split(",") if x.strip()]
    except ValueError:
        msg.fail(f"--seed takes integers, got {seed!r}", exits=1)
    settings = CompareSettings(
        config=str(config), data_dir=str(data_dir), steps=steps, epochs=epochs, select=select, learning_rate=learning_rate,
        batch_size=batch_size, threads=threads, jobs=jobs, gpu_id=gpu_id, overrides=overrides,
        eval_split=eval_split, untyped=untyped, eval_limit=eval_limit,
    )
    with one_line_errors():
        run_experiment(output_dir, datasets, starts, seeds, settings, echo=typer.echo, name=name)
    msg.good(f"Wrote {output_dir / (name + '.json')} and {output_dir / (name + '.md')}")
