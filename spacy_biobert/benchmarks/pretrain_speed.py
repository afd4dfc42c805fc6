"""Pre-training throughput: `spacy-biobert pretrain` against a plain Hugging
Face Trainer masked-LM loop, same model, corpus and settings, in one process.

    python -m spacy_biobert.benchmarks.pretrain_speed CORPUS [--steps 10] [--warmup 3]

Both runs use the same packed data (built once by ``build_datasets``), batch
size, sequence length, learning rate, seed and thread count; the plain loop is
``AutoModelForMaskedLM`` + ``DataCollatorForLanguageModeling`` + ``Trainer``,
the way the transformers examples do it. Only the optimizer steps after
``--warmup`` steps are timed; tokens are the real (non-padding) tokens fed to
the model, counted by a forward hook on both models. Prints a table and
writes JSON.
"""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer


def _timer_callback(warmup: int, record: Dict[str, Any]) -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            record["tokens"] = 0

            def count(module: Any, args_: Any, kwargs: Dict[str, Any]) -> None:
                mask = kwargs.get("attention_mask")
                if module.training:
                    record["tokens"] += int(mask.sum()) if mask is not None else kwargs["input_ids"].numel()

            model.register_forward_pre_hook(count, with_kwargs=True)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == warmup:
                record["t0"], record["tok0"] = time.perf_counter(), record["tokens"]
            elif state.global_step == state.max_steps:
                record["t1"], record["tok1"] = time.perf_counter(), record["tokens"]

    return StepTimer()


def _speed(record: Dict[str, Any], steps: int) -> Dict[str, float]:
    seconds = record["t1"] - record["t0"]
    tokens = record["tok1"] - record["tok0"]
    return {"steps": steps, "seconds": round(seconds, 2), "tokens": tokens,
            "tokens_per_s": round(tokens / seconds, 1), "s_per_step": round(seconds / steps, 3)}


def plain_hf_trainer(corpus: Path, workdir: Path, settings: Any, warmup: int, steps: int) -> Dict[str, float]:
    """The reference: what the transformers MLM examples do."""
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from ..apps.pretrain import build_datasets
    from ..base_model import create_tokenizer_config, resolve_base_model

    name = resolve_base_model(settings.base_model)
    tokenizer = AutoTokenizer.from_pretrained(name, **create_tokenizer_config(settings.base_model))
    data = build_datasets(corpus, tokenizer, settings, workdir / "cache")
    set_seed(settings.seed)
    model = AutoModelForMaskedLM.from_pretrained(name)
    record: Dict[str, Any] = {}
    args = TrainingArguments(
        output_dir=str(workdir / "plain"), max_steps=warmup + steps,
        per_device_train_batch_size=settings.batch_size, learning_rate=settings.learning_rate,
        warmup_ratio=settings.warmup_ratio, weight_decay=settings.weight_decay,
        save_strategy="no", eval_strategy="no", logging_steps=10_000, seed=settings.seed,
        data_seed=settings.seed, report_to=[], dataloader_num_workers=0, disable_tqdm=False,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data["train"],
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=settings.mlm_probability),
                      callbacks=[_timer_callback(warmup, record)])
    trainer.train()
    return _speed(record, steps)


def this_command(corpus: Path, workdir: Path, settings: Any, warmup: int, steps: int) -> Dict[str, float]:
    from dataclasses import replace

    from ..apps.pretrain import run_pretraining

    record: Dict[str, Any] = {}
    s = replace(settings, max_steps=warmup + steps, save_steps=10_000, eval_ratio=settings.eval_ratio,
                eval_steps=10_000, logging_steps=10_000)
    run_pretraining(corpus, workdir / "ours", s, callbacks=[_timer_callback(warmup, record)])
    return _speed(record, steps)


def main(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False),
    base_model: str = typer.Option("embedded", "--base-model"),
    steps: int = typer.Option(10, "--steps", help="Timed optimizer steps per run"),
    warmup: int = typer.Option(3, "--warmup", help="Untimed steps first"),
    batch_size: int = typer.Option(32, "--batch-size"),
    max_length: int = typer.Option(128, "--max-length"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="JSON file for the figures"),
) -> None:
    import torch

    from ..apps.pretrain import PretrainSettings

    settings = PretrainSettings(base_model=base_model, batch_size=batch_size, max_length=max_length,
                                eval_ratio=0.01, learning_rate=5e-5, seed=0)
    workdir = Path(tempfile.mkdtemp(prefix="pretrain_bench_"))
    try:
        results: Dict[str, Any] = {
            "corpus": str(corpus), "base_model": base_model, "batch_size": batch_size,
            "max_length": max_length, "timed_steps": steps, "untimed_steps": warmup,
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
        }
        typer.echo("1/2 spacy-biobert pretrain (run_pretraining)", err=True)
        results["spacy_biobert_pretrain"] = this_command(corpus, workdir, settings, warmup, steps)
        typer.echo("2/2 plain Hugging Face Trainer MLM loop", err=True)
        results["plain_hf_trainer"] = plain_hf_trainer(corpus, workdir, settings, warmup, steps)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ours, ref = results["spacy_biobert_pretrain"], results["plain_hf_trainer"]
    results["ratio_tokens_per_s"] = round(ours["tokens_per_s"] / ref["tokens_per_s"], 3)
    rows: List[str] = [
        "| loop | tokens/s | s/step | timed steps | tokens |", "|---|---|---|---|---|",
        f"| spacy-biobert pretrain | {ours['tokens_per_s']} | {ours['s_per_step']} | {steps} | {ours['tokens']} |",
        f"| plain HF Trainer MLM | {ref['tokens_per_s']} | {ref['s_per_step']} | {steps} | {ref['tokens']} |",
    ]
    sys.stdout.write("\n" + "\n".join(rows) + f"\n\nratio (tokens/s): {results['ratio_tokens_per_s']}\n")
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    typer.run(main)
