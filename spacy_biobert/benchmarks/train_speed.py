"""NER training speed: spaCy's training step on configs/ner.cfg against a plain
Hugging Face token-classification loop, side by side in one process.

    python -m spacy_biobert.benchmarks.train_speed [--train ../shared/data/ner/ncbi_disease/train.tsv]
        [--base-model embedded] [--limit 512] [--batch-size 16] [--rounds 3]
        [--profile-steps 8] [--threads 1] [--config configs/ner.cfg]
        [--output metrics/benchmark_train_speed.json]

Both arms train the same base model on the same sentences (the first
``--limit`` of the IOB file), cut into the same batches (the config's batcher,
``spacy-biobert.batch_by_length.v1``, run once with a fixed seed; each arm gets
the same sentence groups in the same order), with the same schedule shape
(linear warm-up over 10% of the steps, linear decay to zero) and the same
number of steps:

(a) spaCy: configs/ner.cfg (transformer + biobert_ner), initialized on the
    sentences, updated as ``spacy train``'s loop does it
    (``spacy.training.loop.train_while_improving``): ``nlp.update(batch,
    drop=[training] dropout, sgd=False)``, then ``finish_update(optimizer)`` of
    each trainable component (the thinc ``Adam.v1`` of [training.optimizer]:
    weight decay, gradient clipping), then ``optimizer.step_schedules()``;
(b) plain: ``AutoModelForTokenClassification`` (untyped B/I/O, 3 labels),
    ``torch.optim.AdamW`` with the same rate, betas, eps, weight decay and
    clipping, ``get_linear_schedule_with_warmup``; words tokenised with
    ``is_split_into_words``, truncated at the config's window (128 wordpieces),
    padded to the batch's longest, labels on each word's first wordpiece.

One untimed warm-up step per arm, then ``--rounds`` rounds, interleaved
(a, b, a, b, ...), each one pass over all batches. Reported per arm: steps/s,
sentences/s, seconds per epoch-equivalent (the whole training file's sentences
at that rate; over all rounds and for the fastest round) and the time in the
optimizer step; the ratio of spaCy's seconds per epoch to the plain loop's (the
goal: <= 1.0). Then ``--profile-steps``
further spaCy steps under cProfile (untimed, after the rounds) say where its
step goes: transformer forward, backward, the optimizer (thinc Adam), copies
between thinc and torch arrays (``xp2torch``/``torch2xp``; these overlap the
other phases) and the rest (spaCy, alignment, the NER head). A shared machine
makes all figures noisy: compare the arms of one run, not runs; ``--threads 1``
keeps torch's threads from fighting other work for the cores.
"""

import cProfile
import json
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import typer

from ..errors import Errors

NER_CFG = Path(__file__).parent.parent.parent / "configs" / "ner.cfg"
TAGS = ("O", "B", "I")
Sentence = Tuple[List[str], List[str]]


def read_sentences(path: Path, limit: int) -> Tuple[List[Sentence], int]:
    """The first `limit` sentences (0 = all) of an IOB file, tags untyped
    (B/I/O), and the number of sentences in the whole file."""
    from ..ner.iob import read_iob_sentences

    if not Path(path).is_file():
        raise ValueError(Errors.E2770.format(path=path, what="is not a file"))
    sentences: List[Sentence] = []
    total = 0
    for s in read_iob_sentences(path):
        total += 1
        if not limit or len(sentences) < limit:
            sentences.append((list(s.words), [t.split("-", 1)[0] for t in s.tags]))
    if not sentences:
        raise ValueError(Errors.E2770.format(path=path, what="has no sentences"))
    return sentences, total


def _config(base_model: str, total_steps: int, batch_size: int, cfg: Path = NER_CFG) -> Tuple[Any, Any]:
    """The NER config with these settings, and its [training.batcher]."""
    import spacy
    from thinc.api import Config

    overrides = {"paths.base_model": str(base_model), "training.batcher.size": batch_size,
                 "training.optimizer.learn_rate.total_steps": total_steps}
    config = Config().from_disk(cfg, overrides=overrides)
    batcher = spacy.util.registry.resolve({"batcher": config["training"]["batcher"]})["batcher"]
    return config, batcher


def make_batches(sentences: Sequence[Sentence], batcher: Any, seed: int) -> List[List[int]]:
    """The configured batcher's batches, as lists of sentence indices."""
    random.seed(seed)
    ids = list(range(len(sentences)))
    return [list(b) for b in batcher(_Lengthed(i, len(sentences[i][0])) for i in ids)]


class _Lengthed(int):
    """A sentence index whose len() is the sentence's length in words."""

    def __new__(cls, value: int, length: int) -> "_Lengthed":
        obj = super().__new__(cls, value)
        obj.length = length
        return obj

    def __len__(self) -> int:
        return self.length


class SpacyArm:
    """configs/ner.cfg updated the way spacy.training.loop.train_while_improving does."""

    name = "spacy"

    def __init__(self, base_model: str, sentences: Sequence[Sentence], total_steps: int, batch_size: int,
                 cfg: Path = NER_CFG) -> None:
        import spacy
        from spacy.tokens import Doc
        from spacy.training import Example, iob_to_biluo

        config, _ = _config(base_model, total_steps, batch_size, cfg)
        self.nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        self.dropout = float(config["training"]["dropout"])
        self.examples = [
            Example.from_dict(Doc(self.nlp.vocab, words=w),
                              {"entities": iob_to_biluo([t if t == "O" else f"{t}-ENTITY" for t in tags])})
            for w, tags in sentences
        ]
        self.optimizer = self.nlp.initialize(lambda: self.examples)
        self.trainable = [p for _, p in self.nlp.pipeline
                          if getattr(p, "is_trainable", False) and p.model not in (True, False, None)]
        self.update_s = self.optimizer_s = 0.0
        self.losses: Dict[str, float] = {}

    def step(self, batch: Sequence[int]) -> None:
        t0 = time.perf_counter()
        self.nlp.update([self.examples[i] for i in batch], drop=self.dropout, losses=self.losses, sgd=False)
        t1 = time.perf_counter()
        for proc in self.trainable:
            proc.finish_update(self.optimizer)
        self.optimizer.step_schedules()
        t2 = time.perf_counter()
        self.update_s += t1 - t0
        self.optimizer_s += t2 - t1


class PlainArm:
    """AutoModelForTokenClassification + torch AdamW: the loop a user would write."""

    name = "plain_hf"

    def __init__(self, base_model: str, sentences: Sequence[Sentence], total_steps: int, config: Any) -> None:
        import torch
        from transformers import (
            AutoModelForTokenClassification,
            AutoTokenizer,
            get_linear_schedule_with_warmup,
        )

        from ..base_model import create_tokenizer_config, resolve_base_model

        name = resolve_base_model(base_model)
        opt = config["training"]["optimizer"]
        lr = config["training"]["optimizer"]["learn_rate"]
        self.max_length = int(config["components"]["transformer"]["model"]["get_spans"]["window"])
        self.clip = float(opt["grad_clip"])
        self.sentences = sentences
        self.tokenizer = AutoTokenizer.from_pretrained(name, **create_tokenizer_config(base_model))
        torch.manual_seed(int(config["training"]["seed"]))
        self.model = AutoModelForTokenClassification.from_pretrained(name, num_labels=len(TAGS))
        self.model.train()
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=float(lr["initial_rate"]), betas=(float(opt["beta1"]), float(opt["beta2"])),
            eps=float(opt["eps"]), weight_decay=float(opt["L2"]))
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(float(lr["warmup_ratio"]) * total_steps), total_steps)
        self.update_s = self.optimizer_s = 0.0
        self.loss = 0.0

    def encode(self, batch: Sequence[int]) -> Dict[str, Any]:
        import torch

        words = [self.sentences[i][0] for i in batch]
        enc = self.tokenizer(words, is_split_into_words=True, truncation=True, max_length=self.max_length,
                             padding=True, return_tensors="pt")
        labels = []
        for row, i in enumerate(batch):
            tags, seen, out = self.sentences[i][1], set(), []
            for w in enc.word_ids(row):
                out.append(-100 if w is None or w in seen else TAGS.index(tags[w]))
                seen.add(w)
            labels.append(out)
        enc["labels"] = torch.tensor(labels)
        return dict(enc)

    def step(self, batch: Sequence[int]) -> None:
        import torch

        t0 = time.perf_counter()
        loss = self.model(**self.encode(batch)).loss
        loss.backward()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        t2 = time.perf_counter()
        self.update_s += t1 - t0
        self.optimizer_s += t2 - t1
        self.loss += float(loss.detach())


def _summary(arm: Any, rounds: List[float], steps: int, sentences: int, epoch_sentences: int) -> Dict[str, Any]:
    seconds = sum(rounds)
    per_s = sentences / seconds
    return {
        "steps": steps, "sentences": sentences, "seconds": round(seconds, 6),
        "round_seconds": [round(r, 6) for r in rounds],
        "steps_per_s": round(steps / seconds, 3), "sentences_per_s": round(per_s, 2),
        "s_per_epoch": round(epoch_sentences / per_s, 1),
        "update_s": round(arm.update_s, 3), "optimizer_s": round(arm.optimizer_s, 3),
        "optimizer_share": round(arm.optimizer_s / seconds, 3),
        # the fastest round: the least disturbed by other work on the machine
        "best_round_s": round(min(rounds), 6),
        "best_s_per_epoch": round(epoch_sentences / (sentences / len(rounds) / min(rounds)), 1),
    }


# (phase, file ending, function name) matched in the cProfile statistics; cumulative times
PHASES = (
    ("transformer_forward", "thinc/shims/pytorch.py", "begin_update"),
    ("transformer_backward", "thinc/shims/pytorch.py", "backprop"),
    ("optimizer_thinc_adam", "thinc/optimizers.py", "__call__"),
    ("finish_update_transformer", "thinc/shims/pytorch.py", "finish_update"),
    ("copies_xp2torch", "thinc/util.py", "xp2torch"),
    ("copies_torch2xp", "thinc/util.py", "torch2xp"),
)


def profile_spacy(arm: SpacyArm, batches: Sequence[Sequence[int]]) -> Dict[str, Any]:
    """Where a spaCy training step goes: cumulative seconds per phase under
    cProfile over `batches` (untimed steps), and each phase's share of them."""
    profiler = cProfile.Profile()
    optimizer_before = arm.optimizer_s
    t0 = time.perf_counter()
    profiler.enable()
    for batch in batches:
        arm.step(batch)
    profiler.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    phases = {name: 0.0 for name, _, _ in PHASES}
    for (filename, _, func), (_, _, _, cumtime, _) in stats.items():
        for name, suffix, fn in PHASES:
            if func == fn and filename.replace("\\", "/").endswith(suffix):
                phases[name] += cumtime
    # the whole optimizer step (every component's finish_update: thinc Adam and
    # the shim's copies of the transformer's parameters and gradients), timed;
    # the rest of the step: spaCy, alignment, pooling, the NER head, the loss
    phases["optimizer_step"] = arm.optimizer_s - optimizer_before
    main = phases["transformer_forward"] + phases["transformer_backward"]
    phases["other"] = max(0.0, total - main - phases["optimizer_step"])
    return {"steps": len(batches), "seconds": round(total, 3),
            "phase_seconds": {k: round(v, 3) for k, v in phases.items()},
            "phase_share": {k: round(v / total, 3) for k, v in phases.items()}}


def run(
    base_model: str, sentences: Sequence[Sentence], *, batch_size: int = 16, rounds: int = 3,
    profile_steps: int = 8, epoch_sentences: Optional[int] = None, seed: int = 0, cfg: Path = NER_CFG,
) -> Dict[str, Any]:
    """Both arms on the same batches, interleaved; RETURNS the figures."""
    import torch
    from spacy.util import fix_random_seed

    if batch_size < 1 or rounds < 1 or profile_steps < 0:
        raise ValueError(Errors.E2771.format(batch_size=batch_size, rounds=rounds, profile_steps=profile_steps))
    epoch_sentences = epoch_sentences or len(sentences)
    config, batcher = _config(base_model, 1, batch_size, cfg)
    batches = make_batches(sentences, batcher, seed)
    total_steps = 1 + rounds * len(batches)  # the warm-up step, then the rounds
    fix_random_seed(seed)
    spacy_arm = SpacyArm(base_model, sentences, total_steps, batch_size, cfg)
    plain_arm = PlainArm(base_model, sentences, total_steps, config)
    arms = (spacy_arm, plain_arm)
    for arm in arms:  # warm-up: untimed, not counted
        arm.step(batches[0])
        arm.update_s = arm.optimizer_s = 0.0
    times: Dict[str, List[float]] = {arm.name: [] for arm in arms}
    seen: Dict[str, List[int]] = {arm.name: [] for arm in arms}
    for _ in range(rounds):
        for arm in arms:
            t0 = time.perf_counter()
            for batch in batches:
                arm.step(batch)
                seen[arm.name].append(len(batch))
            times[arm.name].append(time.perf_counter() - t0)
            sys.stderr.write(f"round {len(times[arm.name])}/{rounds} {arm.name}: {times[arm.name][-1]:.1f} s\n")
            sys.stderr.flush()
    results: Dict[str, Any] = {
        "base_model": str(base_model), "sentences": len(sentences), "batch_size": batch_size,
        "batches_per_round": len(batches), "rounds": rounds, "warmup_steps": 1,
        "epoch_sentences": epoch_sentences, "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(), "batch_sentences": seen,
    }
    for arm in arms:
        results[arm.name] = _summary(arm, times[arm.name], len(seen[arm.name]), sum(seen[arm.name]),
                                     epoch_sentences)
    results["spacy"]["loss_ner"] = round(spacy_arm.losses.get("ner", 0.0), 3)
    results["plain_hf"]["loss"] = round(plain_arm.loss, 3)
    results["ratio_s_per_epoch"] = round(results["spacy"]["seconds"] / results["plain_hf"]["seconds"], 3)
    results["ratio_best_round"] = round(results["spacy"]["best_round_s"] / results["plain_hf"]["best_round_s"], 3)
    if profile_steps:
        cycle = [batches[i % len(batches)] for i in range(profile_steps)]
        results["spacy_profile"] = profile_spacy(spacy_arm, cycle)
    return results


def table(results: Dict[str, Any]) -> str:
    rows = ["| loop | steps/s | sentences/s | s per epoch | best round: s per epoch | optimizer share | steps | sentences |",
            "|---|---|---|---|---|---|---|---|"]
    for key, label in (("spacy", "spaCy (configs/ner.cfg, thinc Adam)"), ("plain_hf", "plain HF loop (torch AdamW)")):
        r = results[key]
        rows.append(f"| {label} | {r['steps_per_s']} | {r['sentences_per_s']} | {r['s_per_epoch']} | "
                    f"{r['best_s_per_epoch']} | {r['optimizer_share']} | {r['steps']} | {r['sentences']} |")
    out = "\n".join(rows) + (f"\n\nratio spaCy / plain (s per epoch): {results['ratio_s_per_epoch']}"
                              f" (all rounds), {results['ratio_best_round']} (best rounds)\n")
    prof = results.get("spacy_profile")
    if prof:
        out += f"\nspaCy step under cProfile ({prof['steps']} steps, {prof['seconds']} s; copies overlap):\n"
        out += "\n".join(f"  {k}: {v} s ({prof['phase_share'][k]:.1%})" for k, v in prof["phase_seconds"].items())
        out += "\n"
    return out


def main(
    train: Path = typer.Option(Path("../shared/data/ner/ncbi_disease/train.tsv"), "--train",
                               help="IOB training file (default: NCBI-disease in the data mirror)"),
    base_model: str = typer.Option("embedded", "--base-model"),
    config: Path = typer.Option(NER_CFG, "--config", help="The NER training config (spaCy arm)"),
    limit: int = typer.Option(512, "--limit", help="Sentences from the start of the file (0 = all)"),
    batch_size: int = typer.Option(16, "--batch-size", help="Sentences per batch, both arms"),
    rounds: int = typer.Option(3, "--rounds", help="Timed passes over the batches per arm, interleaved"),
    profile_steps: int = typer.Option(8, "--profile-steps", help="spaCy steps under cProfile afterwards (0 = none)"),
    threads: int = typer.Option(0, "--threads", help="torch threads, both arms (0 = torch's default)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="JSON file for the figures"),
) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    try:
        sentences, total = read_sentences(train, limit)
        results = run(base_model, sentences, batch_size=batch_size, rounds=rounds,
                      profile_steps=profile_steps, epoch_sentences=total, cfg=config)
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    results["train"] = str(train)
    sys.stdout.write("\n" + table(results))
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    typer.run(main)
