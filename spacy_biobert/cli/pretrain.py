"""`spacy-biobert pretrain`: continued masked-LM pre-training of a base model."""

import logging
import os
import sys
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ..apps.pretrain import (
    RESULTS_FILE,
    PretrainSettings,
    results_table,
    run_pretraining,
)
from .errors_line import one_line_errors

_DEFAULTS = PretrainSettings()


def pretrain_command(
    corpus: Path = typer.Argument(..., help="Plain-text corpus: one document per block, blank lines between", exists=True, dir_okay=False),
    output_dir: Path = typer.Argument(..., help="Checkpoints, then the model in OUTPUT_DIR/model; run again to resume"),
    base_model: str = typer.Option(_DEFAULTS.base_model, "--base-model", "-b", help="'embedded', a hub name or a folder"),
    max_length: int = typer.Option(_DEFAULTS.max_length, "--max-length"),
    batch_size: int = typer.Option(_DEFAULTS.batch_size, "--batch-size"),
    gradient_accumulation_steps: int = typer.Option(_DEFAULTS.gradient_accumulation_steps, "--grad-accum"),
    max_steps: int = typer.Option(_DEFAULTS.max_steps, "--max-steps"),
    learning_rate: float = typer.Option(_DEFAULTS.learning_rate, "--learning-rate", "--lr"),
    warmup_ratio: float = typer.Option(_DEFAULTS.warmup_ratio, "--warmup-ratio"),
    mlm_probability: float = typer.Option(_DEFAULTS.mlm_probability, "--mlm-probability"),
    whole_word_masking: bool = typer.Option(_DEFAULTS.whole_word_masking, "--whole-word-masking/--no-whole-word-masking"),
    eval_ratio: float = typer.Option(_DEFAULTS.eval_ratio, "--eval-ratio", help="Share of documents held out for MLM loss/perplexity"),
    save_steps: int = typer.Option(_DEFAULTS.save_steps, "--save-steps"),
    save_total_limit: int = typer.Option(_DEFAULTS.save_total_limit, "--save-total-limit", help="Checkpoints kept (0: all, e.g. for an F1-vs-steps curve)"),
    head_warmup_steps: int = typer.Option(_DEFAULTS.head_warmup_steps, "--head-warmup-steps", help="Train a fresh MLM head alone for this many steps before the encoder joins in"),
    sparse_mlm_head: bool = typer.Option(_DEFAULTS.sparse_mlm_head, "--sparse-mlm-head/--dense-mlm-head", help="BERT: run the MLM head at masked positions only (same loss, faster)"),
    eval_steps: int = typer.Option(_DEFAULTS.eval_steps, "--eval-steps"),
    logging_steps: int = typer.Option(_DEFAULTS.logging_steps, "--logging-steps"),
    seed: int = typer.Option(_DEFAULTS.seed, "--seed"),
    precision: str = typer.Option(_DEFAULTS.precision, "--precision", help="auto (bf16/fp16 on GPU, fp32 on CPU), fp32, fp16, bf16"),
    num_proc: int = typer.Option(_DEFAULTS.num_proc, "--num-proc", help="Processes for tokenising"),
    add_corpus: List[Path] = typer.Option([], "--add-corpus", help="More plain text for the training side only (repeatable), e.g. a task's training texts from `spacy-biobert task-text`; the held-out documents stay CORPUS's", exists=True, dir_okay=False),
) -> None:
    """Continue masked-LM pre-training of a BERT on biomedical text (the BioBERT
    recipe). Progress (loss, steps/s) is shown while it runs; starting it again
    in the same OUTPUT_DIR resumes from the last checkpoint. Runs under
    `torchrun --nproc_per_node N -m spacy_biobert pretrain ...` as well: the
    global batch is then N x --batch-size x --grad-accum."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    settings = PretrainSettings(
        base_model=base_model, max_length=max_length, batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps, max_steps=max_steps,
        learning_rate=learning_rate, warmup_ratio=warmup_ratio, mlm_probability=mlm_probability,
        whole_word_masking=whole_word_masking, eval_ratio=eval_ratio, save_steps=save_steps,
        eval_steps=eval_steps, logging_steps=logging_steps, seed=seed, precision=precision,
        num_proc=num_proc, save_total_limit=save_total_limit, head_warmup_steps=head_warmup_steps,
        sparse_mlm_head=sparse_mlm_head, add_corpora=[str(p) for p in add_corpus],
    )
    with one_line_errors():
        results = run_pretraining(corpus, output_dir, settings)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun: the first process reports
        return
    sys.stdout.write("\n" + results_table(results) + "\n")
    msg.good(f"Model: {output_dir / 'model'}; results: {output_dir / RESULTS_FILE}")
