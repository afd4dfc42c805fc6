"""The set-up and the measured arms of the throughput benchmark
(``python -m spacy_biobert.benchmarks.throughput``, which orchestrates them and
writes the report): the texts, the pipeline and its Hugging Face counterparts;
``nlp.pipe``, the HF token-classification pipeline and the bare forward pass,
each timed; best of interleaved rounds; where the time of ``nlp.pipe`` goes;
int8 dynamic quantisation; F1; memory vs documents streamed; time vs length."""

import gc
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_TEXTS = ROOT / "assets" / "ner" / "ncbi_disease" / "test.tsv"


def rss_mb() -> float:
    """The current resident set size of this process, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """The process's peak RSS so far (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def read_texts(path: Path, limit: Optional[int]) -> List[str]:
    """Texts to time: an IOB file's sentences (words joined by spaces), else one text per non-empty line."""
    if not Path(path).exists():
        from ..errors import Errors

        raise FileNotFoundError(Errors.E2001.format(path=path))
    texts: List[str] = []
    if is_iob(path):
        from ..ner.iob import read_iob_sentences

        for sent in read_iob_sentences(path):
            texts.append(" ".join(sent.words))
            if limit and len(texts) >= limit:
                break
    else:
        with open(path, encoding="utf8") as f:
            for line in f:
                if line.strip():
                    texts.append(line.strip())
                    if limit and len(texts) >= limit:
                        break
    return texts


def is_iob(path: Path) -> bool:
    return Path(path).suffix in (".tsv", ".iob", ".conll")


def build_untrained(base_model: str, texts: List[str]):
    """transformer + biobert_ner from configs/ner.cfg, initialised with one label, untrained."""
    import spacy
    from spacy.training import Example
    from thinc.api import Config

    config = Config().from_disk(ROOT / "configs" / "ner.cfg", overrides={"paths.base_model": base_model})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    nlp.config["initialize"]["components"]["ner"] = {"labels": ["Disease"]}
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts[:4]]
    nlp.initialize(lambda: examples)
    return nlp


def transformer_pipe(nlp):
    """The pipeline's spacy-transformers component."""
    from spacy_transformers import Transformer

    trf = next((p for _, p in nlp.pipeline if isinstance(p, Transformer)), None)
    if trf is None:
        from ..errors import Errors

        raise ValueError(Errors.E2702.format(path=nlp.meta.get("name"), names=nlp.pipe_names))
    return trf


def hf_objects(nlp) -> Tuple[Any, Any, int]:
    """The pipeline's HF encoder, its tokenizer and the number of NER tags."""
    trf = transformer_pipe(nlp)
    n_tags = 3
    for _, pipe in nlp.pipeline:
        if hasattr(pipe, "tags"):
            n_tags = len(pipe.tags)
    return trf.model.transformer, trf.model.tokenizer, n_tags


def bucket_settings(nlp) -> Dict[str, int]:
    """The pipeline's length-bucket settings (defaults if it has none)."""
    from ..layers.hf import hf_wrapper
    from ..layers.length_buckets import DEFAULT_BATCH_OVERHEAD, DEFAULT_MAX_BATCH_ITEMS

    attrs = hf_wrapper(transformer_pipe(nlp).model).attrs
    return {
        "batch_overhead": int(attrs.get("batch_overhead", DEFAULT_BATCH_OVERHEAD)),
        "max_batch_items": int(attrs.get("max_batch_items", DEFAULT_MAX_BATCH_ITEMS)),
    }


def token_classifier(encoder, tokenizer, n_tags: int, seed: int = 0):
    """AutoModelForTokenClassification with `encoder`'s weights and a random head of n_tags."""
    import torch
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    with tempfile.TemporaryDirectory() as tmp:
        encoder.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.manual_seed(seed)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "some weights are newly initialised": the head, on purpose
        try:
            model = AutoModelForTokenClassification.from_pretrained(tmp, num_labels=n_tags)
        finally:
            hf_logging.set_verbosity(verbosity)
    return model.eval()


def n_words(texts: List[str]) -> int:
    return sum(len(t.split()) for t in texts)


def time_spacy(nlp, texts: List[str], batch_size: int, bucketed: bool, name: str) -> Dict[str, Any]:
    from ..layers.length_buckets import use_length_buckets

    use_length_buckets(nlp, enabled=bucketed)
    rss0 = rss_mb()
    start = time.perf_counter()
    n_ents = 0
    for doc in nlp.pipe(texts, batch_size=batch_size):
        n_ents += len(doc.ents)
    seconds = time.perf_counter() - start
    return _row(name, texts, seconds, rss0, entities=n_ents)


def time_hf_pipeline(model, tokenizer, texts: List[str], batch_size: int) -> Dict[str, Any]:
    from transformers import pipeline

    pipe = pipeline("token-classification", model=model, tokenizer=tokenizer, device=-1,
                    aggregation_strategy="simple", stride=64)  # stride: long texts in windows
    rss0 = rss_mb()
    start = time.perf_counter()
    out = pipe(texts, batch_size=batch_size)
    seconds = time.perf_counter() - start
    return _row("HF pipeline('token-classification')", texts, seconds, rss0,
                entities=sum(len(o) for o in out))


def time_bare_forward(
    model, tokenizer, texts: List[str], batch_size: int, *, buckets: Optional[Dict[str, int]] = None,
    name: Optional[str] = None, forward_fn: Optional[Callable[[Any, Any], Any]] = None,
) -> Dict[str, Any]:
    """Tokenise, batch, forward under inference_mode, argmax: the limit.

    buckets given: texts are seen `batch_size` at a time (as nlp.pipe sees
    them), each buffer in the length buckets of spacy_biobert.layers.length_buckets
    with these settings. None: all texts sorted by length at once, in batches
    of `batch_size` (offline only).
    forward_fn: called as forward_fn(input_ids, attention_mask) instead of
        `model`'s forward and argmax (e.g. an ONNX Runtime session and the head).
    """
    import torch

    from ..layers.length_buckets import length_buckets

    rss0 = rss_mb()
    start = time.perf_counter()
    enc = tokenizer(texts, truncation=True, max_length=512)["input_ids"]
    if buckets is None:
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        groups = [order[b:b + batch_size] for b in range(0, len(order), batch_size)]
    else:
        groups = []
        for b in range(0, len(enc), batch_size):
            buffer = list(range(b, min(b + batch_size, len(enc))))
            for group in length_buckets([len(enc[i]) for i in buffer], **buckets):
                groups.append([buffer[j] for j in group])
    tokenised = time.perf_counter()
    forward = 0.0
    with torch.inference_mode():
        for group in groups:
            batch = [enc[i] for i in group]
            width = max(len(x) for x in batch)
            ids = torch.full((len(batch), width), tokenizer.pad_token_id or 0, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for j, x in enumerate(batch):
                ids[j, :len(x)] = torch.tensor(x)
                mask[j, :len(x)] = 1
            t0 = time.perf_counter()
            if forward_fn is None:
                model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            else:
                forward_fn(ids, mask)
            forward += time.perf_counter() - t0
    seconds = time.perf_counter() - start
    if name is None:
        name = ("bare forward, inference_mode, same buffers and buckets as nlp.pipe" if buckets
                else "bare forward, inference_mode, all texts sorted by length (offline)")
    row = _row(name, texts, seconds, rss0)
    real = sum(len(x) for x in enc)
    padded = sum(len(g) * max(len(enc[i]) for i in g) for g in groups)
    row.update({
        "tokenise_seconds": round(tokenised - start, 3), "forward_seconds": round(forward, 3),
        "wordpieces": real, "padded_wordpieces": padded, "forward_passes": len(groups),
    })
    return row


def _row(name: str, texts: List[str], seconds: float, rss0: float, **extra: Any) -> Dict[str, Any]:
    words = n_words(texts)
    row = {
        "method": name, "docs": len(texts), "words": words, "seconds": round(seconds, 3),
        "words_per_second": round(words / seconds, 1) if seconds else None,
        "rss_added_mb": round(rss_mb() - rss0, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    row.update(extra)
    return row


def best_of_rounds(methods: List[Tuple[str, Callable[[], Dict[str, Any]]]], rounds: int) -> Dict[str, Dict[str, Any]]:
    """Run every method once per round, `rounds` rounds interleaved; keep
    each method's fastest row, with all its round times."""
    best: Dict[str, Dict[str, Any]] = {}
    times: Dict[str, List[float]] = {key: [] for key, _ in methods}
    for _ in range(max(1, rounds)):
        for key, run in methods:
            gc.collect()
            row = run()
            times[key].append(row["seconds"])
            if key not in best or row["seconds"] < best[key]["seconds"]:
                best[key] = row
    for key, row in best.items():
        row["round_seconds"] = times[key]
    return best


def nlp_pipe_breakdown(nlp, texts: List[str], batch_size: int) -> Dict[str, Any]:
    """Where the time of one (length-bucketed) nlp.pipe run goes: wall seconds
    inside each step (timers wrapped around them for this run only)."""
    import spacy_transformers.layers.transformer_model as tm

    from ..layers.hf import torch_module
    from ..layers.length_buckets import use_length_buckets

    use_length_buckets(nlp, enabled=True)
    trf = transformer_pipe(nlp)
    encoder = torch_module(trf.model)
    spent: Dict[str, float] = {}

    def timed(key: str, func: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
        return wrapper

    patches: List[Tuple[Any, str, Any]] = [
        (nlp, "tokenizer", "spaCy tokenizer"),
        (tm, "huggingface_tokenize", "wordpiece tokenisation (HF tokenizer)"),
        (tm, "get_alignment_via_offset_mapping", "token-wordpiece alignment"),
        (trf.model.attrs, "get_spans", "windows (get_spans)"),
        (trf, "predict", "transformer component predict (total)"),
        (trf, "set_annotations", "transformer set_annotations (split per doc)"),
    ]
    for name, pipe in nlp.pipeline:
        if pipe is not trf and hasattr(pipe, "predict"):
            patches.append((pipe, "predict", f"{name} predict (listener pooling + head)"))
            patches.append((pipe, "set_annotations", f"{name} set_annotations (decoding, doc.ents)"))
    encoder_key = "encoder forward (HF model)"
    started: List[float] = []

    def before(module: Any, args: Any) -> None:
        started.append(time.perf_counter())

    def after(module: Any, args: Any, output: Any) -> None:
        spent[encoder_key] = spent.get(encoder_key, 0.0) + time.perf_counter() - started.pop()

    hooks = [encoder.register_forward_pre_hook(before), encoder.register_forward_hook(after)]
    saved = []
    for obj, attr, key in patches:
        is_dict = isinstance(obj, dict)
        original = obj[attr] if is_dict else getattr(obj, attr)
        had_own = is_dict or attr in vars(obj)
        saved.append((obj, attr, original, had_own, is_dict))
        if is_dict:
            obj[attr] = timed(key, original)
        else:
            setattr(obj, attr, timed(key, original))
    try:
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=batch_size):
            pass
        total = time.perf_counter() - start
    finally:
        for hook in hooks:
            hook.remove()
        for obj, attr, original, had_own, is_dict in reversed(saved):
            if is_dict:
                obj[attr] = original
            elif had_own:
                setattr(obj, attr, original)
            else:
                delattr(obj, attr)
    trf_total = "transformer component predict (total)"
    inner = ("encoder forward (HF model)", "wordpiece tokenisation (HF tokenizer)",
             "token-wordpiece alignment", "windows (get_spans)")
    top = {k: v for k, v in spent.items() if k not in inner}
    steps: Dict[str, float] = {}
    for key, value in sorted(top.items(), key=lambda kv: -kv[1]):
        steps[key] = value
        if key == trf_total:
            for sub in inner:
                steps["  within: " + sub] = spent.get(sub, 0.0)
            steps["  within: the rest (batching, bucketing, output copies)"] = value - sum(
                spent.get(sub, 0.0) for sub in inner)
    steps["outside these (spaCy's pipe loop, generators)"] = total - sum(top.values())
    return {
        "total_seconds": round(total, 3),
        "steps": {k: round(v, 3) for k, v in steps.items()},
        "shares": {k: round(v / total, 3) for k, v in steps.items()},
    }


def quantize(model):
    """int8 dynamic quantisation of the Linear layers (a new module)."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch 2.10+ points to torchao for this API; it still works and is what we time
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def quantize_pipeline(nlp) -> None:
    """Swap the pipeline's HF encoder for its int8 dynamically quantised copy, in place."""
    from spacy_transformers import Transformer

    from ..layers.hf import set_hf_transformer, torch_module

    for _, pipe in nlp.pipeline:
        if isinstance(pipe, Transformer):
            set_hf_transformer(pipe.model, quantize(torch_module(pipe.model)))


def f1_on(nlp, path: Path) -> Dict[str, Any]:
    """seqeval P/R/F1 of `nlp` on an IOB file (spacy-biobert evaluate's scoring,
    the paper's untyped protocol)."""
    from ..apps.evaluate import evaluate_ner

    scores = evaluate_ner(nlp, path, untyped=True, show_progress=False)
    return {k: scores[k] for k in ("precision", "recall", "f1", "n_sentences", "n_pred_entities", "words_per_second")}


def memory_vs_docs(nlp, texts: List[str], counts: List[int], batch_size: int) -> List[Dict[str, Any]]:
    """Stream max(counts) docs (texts cycled) through one nlp.pipe, reading
    RSS when `count` docs are done; the growth is counted from the first
    count (allocator warm-up happens before it)."""
    from ..layers.length_buckets import use_length_buckets

    use_length_buckets(nlp, enabled=True)
    counts = sorted(set(counts))
    total = counts[-1]

    def stream(n: int) -> Iterator[str]:
        for i in range(n):
            yield texts[i % len(texts)]

    gc.collect()
    base = rss_mb()
    rows = []
    highest = base
    start = time.perf_counter()
    for i, _ in enumerate(nlp.pipe(stream(total), batch_size=batch_size), 1):
        if i % 25 == 0:
            highest = max(highest, rss_mb())
        if i in counts:
            rss = rss_mb()
            first = rows[0]["rss_mb"] if rows else rss
            rows.append({
                "docs": i, "rss_mb": round(rss, 1), "rss_max_so_far_mb": round(max(highest, rss), 1),
                "growth_from_start_mb": round(rss - base, 1),
                "growth_since_first_count_mb": round(rss - first, 1),
                "seconds": round(time.perf_counter() - start, 2),
            })
    gc.collect()
    trimmed = malloc_trim()
    for row in rows:
        row["rss_before_stream_mb"] = round(base, 1)
        row["rss_after_malloc_trim_mb"] = trimmed
    return rows


def malloc_trim() -> Optional[float]:
    """Give glibc's free heap memory back to the system; RETURNS the RSS after
    it (None without glibc). What it frees was free memory malloc kept, not
    live objects."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return None
    return round(rss_mb(), 1)


def time_vs_length(nlp, texts: List[str], lengths: List[int], repeats: int) -> List[Dict[str, Any]]:
    """One document of `length` words (texts concatenated), timed `repeats` times (best kept)."""
    from ..layers.length_buckets import use_length_buckets

    use_length_buckets(nlp, enabled=True)
    words: List[str] = []
    for t in texts:
        words.extend(t.split())
    rows = []
    for length in lengths:
        while len(words) < length:
            words = words + words
        text = " ".join(words[:length])
        best = None
        rss0 = rss_mb()
        for _ in range(repeats):
            start = time.perf_counter()
            doc = nlp(text)
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        trf_data = doc._.trf_data if doc.has_extension("trf_data") else None
        windows = len(trf_data.wordpieces) if trf_data else None
        wordpieces = int(trf_data.wordpieces.attention_mask.sum()) if trf_data else None
        rows.append({
            "words": length, "tokens": len(doc), "windows": windows, "wordpieces": wordpieces,
            "seconds": round(best, 3),
            "ms_per_word": round(1000 * best / length, 3),
            "words_per_second": round(length / best, 1),
            "rss_added_mb": round(rss_mb() - rss0, 1),
        })
    return rows
