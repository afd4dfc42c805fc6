"""Continued masked-LM pre-training: what turns BERT into BioBERT.

The paper keeps a general-domain BERT's weights and vocabulary and continues
its masked-LM training on biomedical text. This module does that with the
Hugging Face Trainer, in one process or several under ``torchrun`` (DDP):

* The corpus is plain text, one document per block, blank lines between
  documents (PubMed abstracts, PMC paragraphs). It goes through ``datasets``:
  written to an on-disk Arrow cache once (memory-mapped, so corpora larger
  than RAM work), tokenised once (cached), and packed document by document
  into sequences of at most ``max_length`` wordpieces (``[CLS] ... [SEP]``,
  never mixing two documents). A held-out share of the *documents* gives the
  MLM loss and perplexity.
* Masking as in BERT: 15% of the wordpieces, of which 80% become ``[MASK]``,
  10% a random wordpiece, 10% stay; whole-word masking as an option.
* A model without an MLM head (the embedded all-MiniLM-L6-v2 has none) gets a
  fresh one, and the run says so. ``head_warmup_steps`` trains that head alone
  (encoder and embeddings frozen) before the encoder joins in, so a random head
  does not send random gradients into the pre-trained encoder.
* For BERT, the MLM prediction head runs only at the masked positions (15%)
  instead of at every position: the vocabulary projection is most of a dense
  head's cost, and the loss is the same (the benchmark measures the gain).
* Checkpoints every ``save_steps``; a run started again in the same output
  folder resumes from the last one: same step count, data order and RNG
  states (the Trainer restores them; masks are seeded by each sequence's
  content and the epoch, see SeededMasking), nothing lost or repeated.
* Under ``torchrun`` each process takes its share of every global batch
  (per-device batch x processes x accumulation); the masks are drawn per
  sequence and the loss is averaged over the masked tokens of the whole global
  batch, so N processes with batch B train exactly as one with batch N x B
  (tested with gloo on CPU). Rank 0 alone writes checkpoints, model and results.
* The result, ``<output>/model``, is a Hugging Face folder (weights +
  tokenizer) that the NER configs take through the same base-model variable.
"""

import json
import logging
import math
import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..base_model import resolve_base_model
from ..errors import Errors
from .file_lock import folder_lock
from .pretrain_data import SeededMasking, build_datasets, pack_documents, read_documents

__all__ = ["PretrainSettings", "SeededMasking", "build_datasets", "pack_documents", "read_documents",
           "run_pretraining", "heldout_mlm_loss", "results_table"]

logger = logging.getLogger("spacy_biobert.pretrain")


MODEL_DIR = "model"


RESULTS_FILE = "pretrain_results.json"


@dataclass
class PretrainSettings:
    """Everything that defines a pre-training run (written next to the results)."""

    base_model: str = "embedded"
    max_length: int = 128
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    mlm_probability: float = 0.15
    whole_word_masking: bool = False
    eval_ratio: float = 0.01
    save_steps: int = 200
    eval_steps: int = 200
    logging_steps: int = 20
    save_total_limit: int = 2
    seed: int = 0
    precision: str = "auto"  # auto | fp32 | fp16 | bf16
    num_proc: int = 1
    head_warmup_steps: int = 0
    sparse_mlm_head: bool = True
    # more plain-text corpora for the training side only (task-adaptive
    # pre-training: a task's training texts); held-out documents come from
    # the main corpus alone
    add_corpora: List[str] = field(default_factory=list)


def load_mlm_model(name: str) -> Tuple[Any, bool]:
    """A masked-LM model from a base model; a missing MLM head is created
    fresh (and logged), since the paper's recipe needs one.

    name (str): a folder or hub name (already resolved).
    RETURNS (Tuple[transformers.PreTrainedModel, bool]): the model, and
        whether its MLM head was created fresh.
    """
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # we report the missing head ourselves
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(name, output_loading_info=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    fresh = [k for k in info.get("missing_keys", []) if "cls." in k or "lm_head" in k or "predictions" in k]
    if fresh:
        logger.warning(
            "The base model has no MLM head: created one fresh (%d weights), as "
            "continued pre-training needs one.", len(fresh)
        )
    return model, bool(fresh)


def use_sparse_mlm_head(model: Any) -> bool:
    """Make a BertForMaskedLM compute its training loss at masked positions
    only (same loss, less work). Other model types are left as they are.

    RETURNS (bool): whether the model was switched.
    """
    from transformers import BertForMaskedLM

    if type(model) is BertForMaskedLM:
        model.__class__ = _sparse_bert_mlm_class()
        return True
    return False


def _head_only_parameters(model: Any) -> Tuple[List[Any], List[Any]]:
    """Split parameters into (frozen during head warm-up, trained throughout).
    Everything of the base model (encoder and embeddings; the output
    projection is tied to the word embeddings) is frozen; the head's own
    transform and bias train."""
    base = getattr(model, model.base_model_prefix)
    base_ids = {id(p) for p in base.parameters()}
    frozen = [p for p in model.parameters() if id(p) in base_ids]
    head = [p for p in model.parameters() if id(p) not in base_ids]
    return frozen, head


def _sparse_bert_mlm_class() -> Any:
    from transformers import BertForMaskedLM
    from transformers.modeling_outputs import MaskedLMOutput

    class SparseBertForMaskedLM(BertForMaskedLM):
        """BertForMaskedLM whose training loss runs the prediction head (and
        its vocabulary-sized projection) only at the masked positions. The
        loss equals BertForMaskedLM's (mean cross-entropy over masked tokens);
        in eval mode, or without labels, it is BertForMaskedLM unchanged.
        Counts the real (non-padding) tokens it trains on in ``tokens_seen``.

        Given ``num_items_in_batch`` (the Trainer's count of masked tokens in
        the whole global batch: all accumulation steps, all processes), the
        loss is this batch's summed cross-entropy divided by it, so the
        gradients add up to the global-batch mean whatever the split.
        """

        tokens_seen = 0
        accepts_loss_kwargs = True  # the Trainer passes num_items_in_batch

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None,
                    position_ids=None, head_mask=None, inputs_embeds=None,
                    encoder_hidden_states=None, encoder_attention_mask=None, labels=None,
                    output_attentions=None, output_hidden_states=None, return_dict=None,
                    num_items_in_batch=None):
            if labels is None or not self.training or output_attentions or output_hidden_states:
                return super().forward(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                    position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds,
                    encoder_hidden_states=encoder_hidden_states,
                    encoder_attention_mask=encoder_attention_mask, labels=labels,
                    output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                    return_dict=return_dict,
                )
            import torch.nn.functional as F

            if attention_mask is not None:
                self.tokens_seen += int(attention_mask.sum())
            elif input_ids is not None:
                self.tokens_seen += input_ids.numel()
            hidden = self.bert(
                input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds,
            )[0]
            selected = labels != -100
            if not bool(selected.any()):
                # no masked token: zero loss, every parameter kept in the graph (the
                # head's too: DDP waits for all; in head warm-up only the head trains)
                loss = self.cls(hidden[:, :1]).sum() * 0.0
            elif num_items_in_batch is None:
                loss = F.cross_entropy(self.cls(hidden[selected]).float(), labels[selected])
            else:
                total = F.cross_entropy(self.cls(hidden[selected]).float(), labels[selected], reduction="sum")
                loss = total / max(float(num_items_in_batch), 1.0)
            return MaskedLMOutput(loss=loss, logits=None)

    return SparseBertForMaskedLM


def _trainer_class() -> Any:
    from transformers import Trainer, TrainerCallback

    class PretrainTrainer(Trainer):
        """The HF Trainer, logging tokens/s (real tokens, padding excluded, all
        processes), dropping each epoch's last incomplete global batch, and
        masking the held-out set the same way at every evaluation."""

        _last_log: Optional[Tuple[float, int]] = None

        def get_train_dataloader(self) -> Any:
            # every step a full global batch: under torchrun the Trainer would
            # otherwise fill the last one with sequences from the epoch's start
            drop, self.args.dataloader_drop_last = self.args.dataloader_drop_last, True
            try:
                return super().get_train_dataloader()
            finally:
                self.args.dataloader_drop_last = drop

        def evaluate(self, *args: Any, **kwargs: Any) -> Dict[str, float]:
            epoch, self.data_collator.epoch = self.data_collator.epoch, 0
            try:
                return super().evaluate(*args, **kwargs)
            finally:
                self.data_collator.epoch = epoch

        def log(self, logs: Dict[str, float], start_time: Optional[float] = None) -> None:
            import time

            import torch

            seen = getattr(self.model, "tokens_seen", None)
            if seen is not None and "loss" in logs:  # every process logs at the same steps
                if self.args.world_size > 1:
                    seen = int(self.accelerator.reduce(torch.tensor(seen, device=self.args.device), "sum"))
                now = time.perf_counter()
                if self._last_log is not None and now > self._last_log[0]:
                    logs["tokens_per_s"] = round((seen - self._last_log[1]) / (now - self._last_log[0]), 1)
                self._last_log = (now, seen)
            super().log(logs, start_time)

    class HeadWarmup(TrainerCallback):
        """Freeze the base model for the first `steps` optimizer steps; decided
        by the global step, so a resumed run freezes exactly the same steps."""

        def __init__(self, model: Any, steps: int) -> None:
            self.frozen, _ = _head_only_parameters(model)
            self.steps = steps

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            train_base = state.global_step >= self.steps
            if self.frozen and self.frozen[0].requires_grad != train_base:
                for p in self.frozen:
                    p.requires_grad_(train_base)
                if train_base:
                    logger.warning("Head warm-up done at step %d: the encoder trains too.", state.global_step)

    class MaskingEpoch(TrainerCallback):
        """Tell SeededMasking the epoch about to be read (fresh or resumed:
        the Trainer's state holds the epoch reached)."""

        def __init__(self, masking: SeededMasking) -> None:
            self.masking = masking

        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.masking.epoch = int(state.epoch or 0)

    return PretrainTrainer, HeadWarmup, MaskingEpoch


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _precision_flags(precision: str) -> Dict[str, bool]:
    import torch

    if precision == "auto":
        if _has_cuda():
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "fp32"
    if precision not in ("fp32", "fp16", "bf16"):
        raise ValueError(Errors.E2603.format(precision=precision))
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def run_pretraining(
    corpus: Union[str, Path],
    output_dir: Union[str, Path],
    settings: PretrainSettings,
    *,
    callbacks: Sequence[Any] = (),
) -> Dict[str, Any]:
    """Continued MLM pre-training; resumes from the last checkpoint in
    output_dir if there is one. Under ``torchrun`` every process calls this:
    the first tokenises the corpus while the others wait, then they read its
    cache; the first alone writes the checkpoints, model and results.

    corpus (Union[str, Path]): plain-text corpus (see read_documents).
    output_dir (Union[str, Path]): checkpoints, the final model in
        output_dir/model, results in output_dir/pretrain_results.json.
    settings (PretrainSettings): the run's settings.
    callbacks (Sequence[transformers.TrainerCallback]): extra Trainer callbacks.
    RETURNS (Dict[str, Any]): the results (also written as JSON).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    # one run per folder: rank 0 of a run holds the lock (its other processes
    # share the folder by design); a second run fails at once (E2675)
    rank0 = os.environ.get("RANK", "0") == "0"
    with folder_lock(output_dir, "pretrain") if rank0 else nullcontext():
        return _run_pretraining(corpus, output_dir, settings, callbacks)


def _run_pretraining(corpus: Union[str, Path], output_dir: Path, settings: PretrainSettings,
                     callbacks: Sequence[Any]) -> Dict[str, Any]:
    from transformers import TrainingArguments

    name, tokenizer = _load_tokenizer(settings)
    if not _has_cuda():
        # Accelerate would put process i on device "cpu:i", and the optimizer
        # state saved from there cannot be loaded back (resume fails)
        os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")
    # the Trainer's own process group (gloo on CPU, NCCL on GPU) is set up here
    setup = TrainingArguments(output_dir=str(output_dir), report_to=[], use_cpu=not _has_cuda())
    with setup.main_process_first(local=False, desc="tokenising the corpus"):  # rank 0 writes the cache
        data = build_datasets(corpus, tokenizer, settings, output_dir / "cache")
    model, fresh_head, sparse = _load_model(name, settings)
    has_eval = "eval" in data
    trainer = _build_trainer(model, tokenizer, data, settings, output_dir, callbacks, sparse)
    processes = trainer.args.world_size
    global_batch = settings.batch_size * processes * settings.gradient_accumulation_steps
    if len(data["train"]) < settings.batch_size * processes:
        raise ValueError(Errors.E2660.format(path=corpus, n=len(data["train"]), batch=settings.batch_size,
                                             processes=processes))
    last, train_out = _train(trainer, output_dir)
    results: Dict[str, Any] = {
        "settings": asdict(settings),
        "resolved_base_model": name,
        "fresh_mlm_head": fresh_head,
        "sparse_mlm_head": sparse,
        "resumed_from": Path(last).name if last else None,
        "processes": processes,
        "global_batch": global_batch,
        "train_sequences": len(data["train"]),
        "global_step": trainer.state.global_step,
        "train_runtime_s": train_out.metrics.get("train_runtime"),
        "train_loss": train_out.metrics.get("train_loss"),
    }
    if has_eval:
        results.update(_evaluate(trainer, data["eval"]))
    _write_outputs(trainer, tokenizer, output_dir, sparse, results)
    _end_process_group()
    return results


def _end_process_group() -> None:
    """Under torchrun, tear the process group down once every process is done,
    rather than leaving gloo's threads to interpreter exit (a resumed 2-process
    run in the test suite once ended with SIGABRT, 'terminate called without an
    active exception', on rank 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _load_tokenizer(settings: PretrainSettings) -> Tuple[str, Any]:
    """The resolved base-model name and its tokenizer."""
    from transformers import AutoTokenizer

    from ..base_model import create_tokenizer_config

    name = resolve_base_model(settings.base_model)
    tok_cfg = create_tokenizer_config(settings.base_model)
    return name, AutoTokenizer.from_pretrained(name, **tok_cfg)


def _load_model(name: str, settings: PretrainSettings) -> Tuple[Any, bool, bool]:
    """The MLM model (seeded first), whether its head is fresh, and whether
    the head runs at the masked positions only."""
    from transformers import set_seed

    set_seed(settings.seed)  # the fresh MLM head is drawn before the Trainer seeds
    model, fresh_head = load_mlm_model(name)
    sparse = settings.sparse_mlm_head and use_sparse_mlm_head(model)
    return model, fresh_head, sparse


def _build_trainer(
    model: Any, tokenizer: Any, data: Dict[str, Any], settings: PretrainSettings, output_dir: Path,
    callbacks: Sequence[Any], sparse: bool = False,
) -> Any:
    """The Trainer: seeded BERT masking, the run's TrainingArguments, the
    masking-epoch and (if asked) head warm-up callbacks, then `callbacks`.
    The loss is the mean over the masked tokens of the whole global batch
    (the sparse head divides by the Trainer's count; a dense head's loss is
    computed here the same way)."""
    from transformers import (
        DataCollatorForLanguageModeling,
        DataCollatorForWholeWordMask,
        TrainingArguments,
    )

    collator_cls = DataCollatorForWholeWordMask if settings.whole_word_masking else DataCollatorForLanguageModeling
    collator = SeededMasking(
        collator_cls(tokenizer=tokenizer, mlm_probability=settings.mlm_probability), settings.seed
    )
    has_eval = "eval" in data
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        warmup_ratio=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        lr_scheduler_type="linear",
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit or None,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=settings.eval_steps if has_eval else None,
        logging_steps=settings.logging_steps,
        prediction_loss_only=True,  # never gather vocabulary-sized logits
        seed=settings.seed,
        data_seed=settings.seed,
        report_to=[],
        dataloader_num_workers=0,
        dataloader_pin_memory=_has_cuda(),
        # without it, torchrun on CPUs starts N independent runs, not one run on N processes
        use_cpu=not _has_cuda(),
        average_tokens_across_devices=True,  # masked tokens counted over all processes
        # a frozen encoder (head warm-up) gets no gradients: DDP must not wait for them
        ddp_find_unused_parameters=settings.head_warmup_steps > 0,
        **_precision_flags(settings.precision),
    )
    trainer_cls, head_warmup_cls, masking_epoch_cls = _trainer_class()
    extra = [masking_epoch_cls(collator)]
    if settings.head_warmup_steps > 0:
        extra.append(head_warmup_cls(model, settings.head_warmup_steps))
    return trainer_cls(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data.get("eval"),
        data_collator=collator,
        processing_class=tokenizer,  # every checkpoint is a complete model folder
        callbacks=extra + list(callbacks),
        compute_loss_func=None if sparse else global_batch_mlm_loss,
    )


def global_batch_mlm_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """A dense MLM head's loss: summed cross-entropy over this batch's masked
    tokens divided by the global batch's count (the mean if not given)."""
    import torch.nn.functional as F

    logits = outputs["logits"]
    flat = labels.reshape(-1).to(logits.device)
    if num_items_in_batch is None:
        n = max(int((flat != -100).sum()), 1)
    else:
        n = max(float(num_items_in_batch), 1.0)
    total = F.cross_entropy(logits.reshape(flat.shape[0], -1).float(), flat, ignore_index=-100, reduction="sum")
    return total / n


def _train(trainer: Any, output_dir: Path) -> Tuple[Optional[str], Any]:
    """Train, resuming from the last checkpoint in output_dir if there is one;
    RETURNS that checkpoint (or None) and the Trainer's output."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(output_dir))
    if last:
        logger.warning("Resuming from %s", last)
    return last, trainer.train(resume_from_checkpoint=last)


def _evaluate(trainer: Any, eval_data: Any) -> Dict[str, Any]:
    """The held-out MLM loss and perplexity, for the results."""
    loss, n_masked = heldout_mlm_loss(trainer)
    return {
        "eval_sequences": len(eval_data),
        "eval_masked_tokens": n_masked,
        "eval_loss": loss,
        "eval_perplexity": None if loss is None else math.exp(min(loss, 50.0)),
    }


def _write_outputs(trainer: Any, tokenizer: Any, output_dir: Path, sparse: bool, results: Dict[str, Any]) -> None:
    """Save the model (a plain BertForMaskedLM folder) and tokenizer to
    output_dir/model, and the results as JSON (on the main process)."""
    model_dir = output_dir / MODEL_DIR
    trainer.save_model(str(model_dir))  # writes on the main process only
    if not trainer.is_world_process_zero():
        return
    tokenizer.save_pretrained(str(model_dir))
    if sparse:
        _restore_architecture_name(model_dir / "config.json", "BertForMaskedLM")
    (output_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")


def _restore_architecture_name(config_path: Path, name: str) -> None:
    """The saved config names the class that saved it; the folder holds a
    plain BertForMaskedLM, so say so."""
    config = json.loads(config_path.read_text(encoding="utf8"))
    config["architectures"] = [name]
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf8")


def heldout_mlm_loss(trainer: Any) -> Tuple[Optional[float], int]:
    """MLM loss over the held-out set, averaged over its masked tokens (not over
    batches: a small batch may have no masked token and a NaN mean). Under
    torchrun each process scores every N-th sequence and the sums are added
    up, so every sequence counts once (the same figure as one process).

    RETURNS (Tuple[Optional[float], int]): the loss (None if nothing was
        masked) and the number of masked tokens.
    """
    import torch

    args, model = trainer.args, trainer.model
    masking = trainer.data_collator
    eval_data = trainer.eval_dataset
    shard = eval_data.select(range(args.process_index, len(eval_data), args.world_size))
    epoch, masking.epoch = masking.epoch, 0  # the masks of every evaluation
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.inference_mode():
            for start in range(0, len(shard), args.per_device_eval_batch_size):
                rows = shard.select(range(start, min(start + args.per_device_eval_batch_size, len(shard))))
                batch = {k: v.to(model.device) for k, v in masking(list(rows)).items()}
                n = int((batch["labels"] != -100).sum())
                if n:
                    total += float(model(**batch).loss) * n
                    count += n
    finally:
        masking.epoch = epoch
    if args.world_size > 1:
        sums = trainer.accelerator.reduce(torch.tensor([total, float(count)], dtype=torch.float64,
                                                       device=args.device), "sum")
        total, count = float(sums[0]), int(sums[1])
    return (total / count if count else None), count


def results_table(results: Dict[str, Any]) -> str:
    """A markdown table of a run's results."""
    s = results["settings"]
    rows = [
        ("base model", s["base_model"]), ("MLM head created fresh", results["fresh_mlm_head"]),
        ("head warm-up steps", s.get("head_warmup_steps", 0)),
        ("steps", results["global_step"]), ("resumed from", results["resumed_from"] or "-"),
        ("sequences (train / held out)", f"{results['train_sequences']} / {results.get('eval_sequences', 0)}"),
        ("max length / batch", f"{s['max_length']} / {s['batch_size']}"),
        ("train loss", _fmt(results.get("train_loss"))),
        ("held-out MLM loss", _fmt(results.get("eval_loss"))),
        ("held-out perplexity", _fmt(results.get("eval_perplexity"))),
        ("train time (s)", _fmt(results.get("train_runtime_s"))),
    ]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"


def _fmt(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.4g}"
