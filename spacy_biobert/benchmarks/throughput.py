"""Inference throughput of a spacy-biobert NER pipeline, against Hugging Face and the bare model.

    python -m spacy_biobert.benchmarks.throughput [--model training/ncbi_disease/model-best]
        [--texts ../shared/data/ner/ncbi_disease/test.tsv] [--limit 300] [--quantize]
        [--output metrics/benchmark_throughput.json] [--markdown metrics/benchmark_throughput.md]

In one process, on the same texts and the same transformer weights:

1. ``nlp.pipe`` of the spaCy pipeline (transformer + biobert_ner: tokenisation,
   windows, alignment, pooling, the NER head, Viterbi decoding);
2. Hugging Face ``pipeline("token-classification")`` on an
   ``AutoModelForTokenClassification`` made of the pipeline's transformer
   weights and a random head with one output per BIO tag (the head's values
   do not change the time);
3. the limit: the tokenised texts sorted by length, batched, and a bare
   forward pass of that model under ``torch.inference_mode()``.

Words are whitespace-separated words of the texts, the same count for all
three. Reported: words/s, ratios, the process's peak RSS after each phase
(``ru_maxrss``, a running maximum) and the RSS it added. ``--quantize`` adds
int8 dynamic quantisation (``torch.ao.quantization.quantize_dynamic`` on the
``Linear`` layers) of the pipeline's model and of the bare model.
Scaling: RSS while streaming more and more documents through ``nlp.pipe``
(should be flat), and time per word for one document of 1k vs 10k words.

Without ``--model`` an *untrained* pipeline is built from configs/ner.cfg on
``--base-model`` (default: the embedded MiniLM): fine for timing, not for
predictions. Prints a markdown table; writes JSON and markdown if asked. This
is a benchmark script, not a test.
"""

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_TEXTS = ROOT.parent / "shared" / "data" / "ner" / "ncbi_disease" / "test.tsv"


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
    texts: List[str] = []
    if path.suffix in (".tsv", ".iob", ".conll"):
        from ..readers import read_iob_sentences

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


def hf_objects(nlp) -> Tuple[Any, Any, int]:
    """The pipeline's HF encoder, its tokenizer and the number of NER tags."""
    from spacy_transformers import Transformer

    trf = next((p for _, p in nlp.pipeline if isinstance(p, Transformer)), None)
    if trf is None:
        from ..errors import Errors

        raise ValueError(Errors.E139.format(path=nlp.meta.get("name"), names=nlp.pipe_names))
    n_tags = 3
    for _, pipe in nlp.pipeline:
        if hasattr(pipe, "tags"):
            n_tags = len(pipe.tags)
    return trf.model.transformer, trf.model.tokenizer, n_tags


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


def time_spacy(nlp, texts: List[str], batch_size: int) -> Dict[str, Any]:
    rss0 = rss_mb()
    start = time.perf_counter()
    n_ents = 0
    for doc in nlp.pipe(texts, batch_size=batch_size):
        n_ents += len(doc.ents)
    seconds = time.perf_counter() - start
    return _row("spaCy nlp.pipe (transformer + biobert_ner)", texts, seconds, rss0, entities=n_ents)


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


def time_bare_forward(model, tokenizer, texts: List[str], batch_size: int) -> Dict[str, Any]:
    """Tokenise, sort by length, batch, forward under inference_mode: the limit."""
    import torch

    rss0 = rss_mb()
    start = time.perf_counter()
    enc = tokenizer(texts, truncation=True, max_length=512)["input_ids"]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    tokenised = time.perf_counter()
    forward = 0.0
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            batch = [enc[i] for i in order[b:b + batch_size]]
            width = max(len(x) for x in batch)
            ids = torch.full((len(batch), width), tokenizer.pad_token_id or 0, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for j, x in enumerate(batch):
                ids[j, :len(x)] = torch.tensor(x)
                mask[j, :len(x)] = 1
            t0 = time.perf_counter()
            model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            forward += time.perf_counter() - t0
    seconds = time.perf_counter() - start
    row = _row("bare forward, length-sorted batches, inference_mode", texts, seconds, rss0)
    row["tokenise_seconds"] = round(tokenised - start, 3)
    row["forward_seconds"] = round(forward, 3)
    row["wordpieces"] = sum(len(x) for x in enc)
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

    for _, pipe in nlp.pipeline:
        if isinstance(pipe, Transformer):
            shim = pipe.model.layers[0].shims[0]
            quantized = quantize(shim._model)
            shim._model = quantized
            shim._hfmodel.transformer = quantized


def memory_vs_docs(nlp, texts: List[str], counts: List[int], batch_size: int) -> List[Dict[str, Any]]:
    """Stream `count` docs through nlp.pipe (texts cycled), sampling RSS; should stay flat."""
    rows = []
    for count in counts:
        gc.collect()
        base = rss_mb()
        highest = base

        def stream(n: int) -> Iterator[str]:
            for i in range(n):
                yield texts[i % len(texts)]

        start = time.perf_counter()
        for i, _ in enumerate(nlp.pipe(stream(count), batch_size=batch_size)):
            if i % 25 == 0:
                highest = max(highest, rss_mb())
        seconds = time.perf_counter() - start
        rows.append({
            "docs": count, "rss_start_mb": round(base, 1), "rss_max_mb": round(highest, 1),
            "rss_growth_mb": round(highest - base, 1), "seconds": round(seconds, 2),
        })
    return rows


def time_vs_length(nlp, texts: List[str], lengths: List[int], repeats: int) -> List[Dict[str, Any]]:
    """One document of `length` words (texts concatenated), timed `repeats` times (best kept)."""
    words: List[str] = []
    for t in texts:
        words.extend(t.split())
    rows = []
    for length in lengths:
        while len(words) < length:
            words = words + words
        text = " ".join(words[:length])
        best = None
        for _ in range(repeats):
            start = time.perf_counter()
            doc = nlp(text)
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        rows.append({
            "words": length, "tokens": len(doc), "seconds": round(best, 3),
            "ms_per_word": round(1000 * best / length, 3),
            "words_per_second": round(length / best, 1),
        })
    return rows


def markdown(results: Dict[str, Any]) -> str:
    s = results["settings"]
    lines = [
        "### Inference throughput (NER)",
        "",
        f"Model: `{s['model']}`; texts: `{s['texts']}` ({s['docs']} docs, {s['words']} words); "
        f"batch size {s['batch_size']}; torch threads {s['threads']}; {s['machine']}.",
        "",
        "| method | words/s | seconds | × bare forward | peak RSS MB (running) | RSS added MB |",
        "|---|---|---|---|---|---|",
    ]
    bare = results["throughput"][-1]["words_per_second"] if results["throughput"] else None
    for row in results["throughput"] + results.get("int8", []):
        ratio = f"{row['words_per_second'] / bare:.2f}" if bare and row["words_per_second"] else "-"
        lines.append(
            f"| {row['method']} | {row['words_per_second']} | {row['seconds']} | {ratio} | "
            f"{row['peak_rss_mb']} | {row['rss_added_mb']} |"
        )
    if results.get("ratios"):
        lines += ["", " · ".join(f"{k}: {v}" for k, v in results["ratios"].items())]
    if results.get("memory_vs_docs"):
        lines += ["", "| docs streamed | RSS at start MB | max RSS MB | growth MB | seconds |", "|---|---|---|---|---|"]
        for r in results["memory_vs_docs"]:
            lines.append(f"| {r['docs']} | {r['rss_start_mb']} | {r['rss_max_mb']} | {r['rss_growth_mb']} | {r['seconds']} |")
    if results.get("time_vs_length"):
        lines += ["", "| document words | spaCy tokens | seconds | ms/word | words/s |", "|---|---|---|---|---|"]
        for r in results["time_vs_length"]:
            lines.append(f"| {r['words']} | {r['tokens']} | {r['seconds']} | {r['ms_per_word']} | {r['words_per_second']} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="trained pipeline folder (default: an untrained one on --base-model)")
    parser.add_argument("--base-model", default="embedded")
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS, help="IOB .tsv or a text file (one text per line)")
    parser.add_argument("--limit", type=int, default=300, help="at most this many texts (0: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quantize", action="store_true", help="also time int8 dynamic quantisation")
    parser.add_argument("--stream-docs", default="200,800,3200", help="memory vs docs: counts, comma-separated ('' to skip)")
    parser.add_argument("--lengths", default="1000,10000", help="time vs length: words, comma-separated ('' to skip)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, help="JSON results")
    parser.add_argument("--markdown", type=Path, help="markdown table")
    args = parser.parse_args(argv)

    import platform

    import spacy
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts = read_texts(args.texts, args.limit or None)
    nlp = spacy.load(args.model) if args.model else build_untrained(args.base_model, texts)
    encoder, tokenizer, n_tags = hf_objects(nlp)
    classifier = token_classifier(encoder, tokenizer, n_tags)
    # warm-up: the first batch of each path pays for lazy initialisation
    list(nlp.pipe(texts[:8]))
    time_bare_forward(classifier, tokenizer, texts[:8], args.batch_size)

    results: Dict[str, Any] = {
        "settings": {
            "model": args.model or f"untrained transformer + biobert_ner on {args.base_model}",
            "texts": str(args.texts), "docs": len(texts), "words": n_words(texts),
            "batch_size": args.batch_size, "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        },
        "throughput": [
            time_spacy(nlp, texts, args.batch_size),
            time_hf_pipeline(classifier, tokenizer, texts, args.batch_size),
            time_bare_forward(classifier, tokenizer, texts, args.batch_size),
        ],
    }
    spacy_row, hf_row, bare_row = results["throughput"]
    results["ratios"] = {
        "spaCy / bare": round(spacy_row["words_per_second"] / bare_row["words_per_second"], 3),
        "HF pipeline / bare": round(hf_row["words_per_second"] / bare_row["words_per_second"], 3),
        "spaCy / HF pipeline": round(spacy_row["words_per_second"] / hf_row["words_per_second"], 3),
    }
    if args.stream_docs:
        counts = [int(c) for c in args.stream_docs.split(",")]
        results["memory_vs_docs"] = memory_vs_docs(nlp, texts, counts, args.batch_size)
    if args.lengths:
        lengths = [int(n) for n in args.lengths.split(",")]
        results["time_vs_length"] = time_vs_length(nlp, texts, lengths, args.repeats)
    if args.quantize:
        quantize_pipeline(nlp)
        qclassifier = quantize(classifier)
        list(nlp.pipe(texts[:8]))
        rows = [
            time_spacy(nlp, texts, args.batch_size),
            time_bare_forward(qclassifier, tokenizer, texts, args.batch_size),
        ]
        for row in rows:
            row["method"] = "int8 dynamic: " + row["method"]
        results["int8"] = rows
        results["ratios"]["spaCy int8 / spaCy fp32"] = round(
            rows[0]["words_per_second"] / spacy_row["words_per_second"], 3)
        results["ratios"]["bare int8 / bare fp32"] = round(
            rows[1]["words_per_second"] / bare_row["words_per_second"], 3)
    table = markdown(results)
    sys.stdout.write(table)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table, encoding="utf8")
    return results


if __name__ == "__main__":
    main()
