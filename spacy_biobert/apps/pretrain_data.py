"""The pre-training corpus and its masking: documents read from plain text,
tokenised and packed into sequences once (an Arrow cache), and BERT masking
drawn per sequence so that the masks do not depend on how sequences are
batched or on which process (under ``torchrun``) draws them.
"""

from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Union

from ..errors import PACKAGE_PREFIX, Errors
from ..text_files import open_utf8


def read_documents(path: Union[str, Path]) -> Iterator[str]:
    """Yield the documents of a plain-text corpus: blocks of non-empty lines
    separated by blank lines; a block's lines are joined with newlines.

    path (Union[str, Path]): the corpus file (UTF-8).
    YIELDS (str): one document.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    lines: List[str] = []
    with open_utf8(path) as f:
        for raw in f:
            line = raw.strip()
            if line:
                lines.append(line)
            elif lines:
                yield "\n".join(lines)
                lines = []
    if lines:
        yield "\n".join(lines)


def _documents_gen(path: str) -> Iterator[Dict[str, str]]:
    for doc in read_documents(path):
        yield {"text": doc}


def pack_documents(
    batch: Dict[str, List[List[int]]], *, max_length: int, cls_id: int, sep_id: int
) -> Dict[str, List[List[int]]]:
    """Cut each document's wordpieces into sequences of at most max_length,
    each framed by [CLS] ... [SEP]; a sequence never spans two documents.

    batch (Dict[str, List[List[int]]]): {"input_ids": wordpiece ids per document}.
    RETURNS (Dict[str, List[List[int]]]): {"input_ids": one list per sequence}.
    """
    body = max_length - 2
    if body < 1:
        raise ValueError(Errors.E2601.format(max_length=max_length))
    out: List[List[int]] = []
    for ids in batch["input_ids"]:
        for start in range(0, len(ids), body):
            out.append([cls_id] + list(ids[start : start + body]) + [sep_id])
    return {"input_ids": out}


def _documents_dataset(path: Union[str, Path], cache_dir: Path) -> Any:
    """The documents of `path` as a datasets.Dataset (cached). An error of the
    file itself (E2050: not UTF-8) is raised as it is, not wrapped in the
    datasets library's DatasetGenerationError."""
    import datasets

    try:
        return datasets.Dataset.from_generator(
            _documents_gen, gen_kwargs={"path": str(Path(path).resolve())}, cache_dir=str(cache_dir)
        )
    except datasets.exceptions.DatasetGenerationError as e:
        cause = e.__cause__ or e.__context__
        if isinstance(cause, ValueError) and PACKAGE_PREFIX in str(cause):
            raise cause from None
        raise


def build_datasets(
    corpus: Union[str, Path],
    tokenizer: Any,
    settings: Any,
    cache_dir: Union[str, Path],
) -> Dict[str, Any]:
    """Tokenise and pack the corpus once (cached in cache_dir), and hold out
    settings.eval_ratio of the documents. The documents of
    settings.add_corpora (e.g. a task's training texts: task-adaptive
    pre-training) join the training side only, so the held-out documents, and
    with them the held-out loss, are those of a run on `corpus` alone.

    RETURNS (Dict[str, datasets.Dataset]): "train" and, if eval_ratio > 0, "eval".
    """
    import datasets

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    docs = _documents_dataset(corpus, cache_dir)
    if len(docs) == 0:
        raise ValueError(Errors.E2602.format(path=corpus))
    splits: Dict[str, Any] = {"train": docs}
    if settings.eval_ratio > 0 and len(docs) > 1:
        parts = docs.train_test_split(test_size=settings.eval_ratio, seed=settings.seed, shuffle=True)
        splits = {"train": parts["train"], "eval": parts["test"]}
    extra = [_documents_dataset(path, cache_dir) for path in getattr(settings, "add_corpora", None) or []]
    for path, ds in zip(settings.add_corpora if extra else [], extra):
        if len(ds) == 0:
            raise ValueError(Errors.E2602.format(path=path))
    if extra:
        splits["train"] = datasets.concatenate_datasets([splits["train"], *extra])

    def tokenize(batch: Dict[str, List[str]]) -> Dict[str, Any]:
        return tokenizer(batch["text"], add_special_tokens=False, return_attention_mask=False,
                         return_token_type_ids=False, verbose=False)

    # one process: no pool at all (datasets forks a pool even for num_proc=1, and a
    # child forked from a process whose torch / ONNX Runtime threads ran can hang)
    num_proc = settings.num_proc if settings.num_proc > 1 else None
    packed = {}
    for name, ds in splits.items():
        ds = ds.map(tokenize, batched=True, remove_columns=["text"], num_proc=num_proc,
                    desc=f"Tokenising {name}")
        ds = ds.map(
            pack_documents, batched=True, remove_columns=ds.column_names, num_proc=num_proc,
            fn_kwargs={"max_length": settings.max_length, "cls_id": tokenizer.cls_token_id,
                       "sep_id": tokenizer.sep_token_id},
            desc=f"Packing {name}",
        )
        packed[name] = ds
    return packed


class SeededMasking:
    """BERT masking (the wrapped collator's: 15%, 80/10/10, or whole words)
    drawn for each sequence from a generator seeded by the run's seed, the
    epoch and the sequence's own wordpieces; the global RNGs are untouched.

    Why per sequence: a sequence's mask is then the same whichever batch it
    lands in, so a run on N processes with batch B masks exactly as one process
    with batch N x B (the same global batch, the same masks), and a run resumed
    from a checkpoint masks as an uninterrupted one (the Trainer's data loader
    collates one batch ahead, so masks drawn from the global RNG would not
    survive a checkpoint). The epoch (set by the Trainer through
    MaskingEpoch) gives a sequence new masks in each epoch: dynamic masking.
    The sequences are padded after masking (pad id, attention mask 0, label -100).
    Token masking is done here, batched, with the collator's settings; whole-word
    masking calls the collator on one sequence at a time (slower).
    """

    def __init__(self, collator: Any, seed: int) -> None:
        self.collator = collator
        self.seed = seed
        self.epoch = 0

    def _sequence_seed(self, input_ids: Sequence[int]) -> int:
        import hashlib

        import numpy

        digest = hashlib.sha256(f"{self.seed}:{self.epoch}".encode("utf8"))
        digest.update(numpy.asarray(input_ids, dtype=numpy.int64).tobytes())
        return int.from_bytes(digest.digest()[:8], "little") & ((1 << 63) - 1)

    def __call__(self, examples: List[Dict[str, Any]]) -> Dict[str, Any]:
        from transformers import DataCollatorForWholeWordMask

        if isinstance(self.collator, DataCollatorForWholeWordMask):
            return _pad_rows(self._whole_word_rows(examples), self.collator.tokenizer.pad_token_id)
        return self._mask_tokens(examples)

    def _mask_tokens(self, examples: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Token masking as the collator does it (mlm_probability of the
        non-special wordpieces; of those, mask_replace_prob become [MASK] and
        random_replace_prob a random wordpiece), with each sequence's random
        numbers drawn from its own generator, then applied to the whole batch."""
        import torch

        c, tok = self.collator, self.collator.tokenizer
        width = max(len(e["input_ids"]) for e in examples)
        input_ids = torch.full((len(examples), width), tok.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
        draws = torch.ones((len(examples), 3, width))
        random_words = torch.zeros((len(examples), width), dtype=torch.long)
        for i, example in enumerate(examples):
            n = len(example["input_ids"])
            input_ids[i, :n] = torch.as_tensor(example["input_ids"], dtype=torch.long)
            attention_mask[i, :n] = 1
            generator = torch.Generator().manual_seed(self._sequence_seed(example["input_ids"]))
            draws[i, :, :n] = torch.rand((3, n), generator=generator)
            random_words[i, :n] = torch.randint(len(tok), (n,), generator=generator)
        special = torch.isin(input_ids, torch.tensor(sorted(set(tok.all_special_ids)), dtype=torch.long))
        masked = (draws[:, 0] < c.mlm_probability) & ~special & attention_mask.bool()
        labels = torch.where(masked, input_ids, torch.full_like(input_ids, -100))
        replaced = masked & (draws[:, 1] < c.mask_replace_prob)
        rest = 1.0 - c.mask_replace_prob
        randomised = masked & ~replaced & (draws[:, 2] < (c.random_replace_prob / rest if rest > 0 else 0.0))
        input_ids[replaced] = tok.mask_token_id
        input_ids[randomised] = random_words[randomised]
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    def _whole_word_rows(self, examples: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Whole-word masking (which also draws from `random`): the collator on
        one sequence at a time, under the sequence's seed, global RNGs restored."""
        import random

        import torch

        rows = []
        py_state = random.getstate()
        try:
            with torch.random.fork_rng(devices=[]):
                for example in examples:
                    seed = self._sequence_seed(example["input_ids"])
                    torch.manual_seed(seed)
                    random.seed(seed)
                    rows.append(self.collator([{"input_ids": example["input_ids"]}]))
        finally:
            random.setstate(py_state)
        return rows


def _pad_rows(rows: List[Dict[str, Any]], pad_id: int) -> Dict[str, Any]:
    """One batch from single-sequence collator outputs, right-padded."""
    import torch

    width = max(int(r["input_ids"].shape[1]) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        n = int(row["input_ids"].shape[1])
        input_ids[i, :n] = row["input_ids"][0]
        labels[i, :n] = row["labels"][0]
        attention_mask[i, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
