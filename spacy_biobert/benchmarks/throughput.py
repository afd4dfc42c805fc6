"""Inference throughput of a spacy-biobert NER pipeline, against Hugging Face and the bare model.

    python -m spacy_biobert.benchmarks.throughput [--model training/ncbi_disease/model-best]
        [--texts assets/ner/ncbi_disease/test.tsv] [--limit 300] [--rounds 3] [--quantize] [--f1]
        [--onnx/--no-onnx] [--onnx-cache DIR]
        [--output metrics/benchmark_throughput.json] [--markdown metrics/benchmark_throughput.md]

In one process, on the same texts and the same transformer weights:

1. ``nlp.pipe`` of the spaCy pipeline (transformer + biobert_ner: tokenisation,
   windows, alignment, pooling, the NER head, Viterbi decoding), twice: with
   spacy-transformers' own prediction (one forward pass per batch, padded to
   its longest window) and length-bucketed (``spacy_biobert.layers.length_buckets``:
   the batch's windows in groups of similar length; the default of
   ``spacy-biobert.TransformerModel.v1``, switched on for older pipelines with
   ``use_length_buckets``);
2. Hugging Face ``pipeline("token-classification")`` on an
   ``AutoModelForTokenClassification`` made of the pipeline's transformer
   weights and a random head with one output per BIO tag (the head's values
   do not change the time);
3. the limit: a bare forward pass of that model under ``torch.inference_mode()``
   on the tokenised texts, seeing them as ``nlp.pipe`` does, ``--batch-size``
   texts at a time, each buffer grouped by the same length buckets: the same
   forward passes with no pipeline around them. For reference, also the bare
   forward over all texts sorted by length at once (only possible offline);
4. with ``--onnx`` (the default when onnxruntime is installed): the pipeline's transformer on ONNX Runtime,
   fp32 and int8 (``spacy_biobert.layers.onnx_runtime``: ``runtime =
   "onnx-fp32"`` / ``"onnx-int8"``), through ``nlp.pipe`` and as bare forwards
   on the same session, buffers and buckets (``throughput_onnx``); with
   ``--f1`` the F1 of each; the export is cached in ``--onnx-cache``.

Every method runs once per round, ``--rounds`` rounds interleaved, and the
fastest round of each is reported (the machine may be shared: interleaving
and best-of keep the ratios fair; the spread of each is in the JSON).
Words are whitespace-separated words of the texts, the same count for all.
Reported: words/s, ratios, the process's peak RSS (``ru_maxrss``, a running
maximum) and the RSS each method added; where the time of ``nlp.pipe`` goes
(encoder forward, wordpiece tokenisation, alignment, NER head, decoding...).
``--quantize`` adds int8 dynamic quantisation (``quantize_dynamic`` of the
``Linear`` layers) of the pipeline's encoder and of the bare model; with
``--f1`` (an IOB ``--texts`` file) the F1 of the pipeline on the whole file,
fp32 and int8, by ``spacy-biobert evaluate``'s scoring.
Scaling: RSS while streaming ever more documents through one ``nlp.pipe``
(flat once glibc's heap has grown to the largest batches: it runs after the
timed rounds; RSS after ``malloc_trim`` shows what was only free heap), and
the time of one document of 1k vs 10k words (its windows and wordpieces).

Without ``--model`` an *untrained* pipeline is built from configs/ner.cfg on
``--base-model`` (default: the embedded MiniLM): fine for timing, not for
predictions. Prints a markdown table; writes JSON and markdown if asked. This
is a benchmark script, not a test.
"""

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import typer

from .throughput_arms import (  # noqa: F401 (re-exported: the benchmark's functions, as before the split)
    DEFAULT_TEXTS,
    ROOT,
    best_of_rounds,
    bucket_settings,
    build_untrained,
    f1_on,
    hf_objects,
    is_iob,
    malloc_trim,
    memory_vs_docs,
    n_words,
    nlp_pipe_breakdown,
    peak_rss_mb,
    quantize,
    quantize_pipeline,
    read_texts,
    rss_mb,
    time_bare_forward,
    time_hf_pipeline,
    time_spacy,
    time_vs_length,
    token_classifier,
    transformer_pipe,
)


def markdown(results: Dict[str, Any]) -> str:
    s = results["settings"]
    lines = [
        "### Inference throughput (NER)",
        "",
        f"Model: `{s['model']}`; texts: `{s['texts']}` ({s['docs']} docs, {s['words']} words); "
        f"nlp.pipe batch size {s['batch_size']} (also the bare forward's buffer); length buckets "
        f"{s['buckets']}; torch threads {s['threads']}; best of {s['rounds']} interleaved rounds; "
        f"{s['machine']}.",
        "",
        "| method | words/s | seconds (best) | rounds (s) | × limit | peak RSS MB (running) | RSS added MB |",
        "|---|---|---|---|---|---|---|",
    ]
    limit = results["throughput"].get("bare")
    rows = list(results["throughput"].values()) + list(results.get("int8", {}).values())
    for row in rows:
        ratio = (f"{row['words_per_second'] / limit['words_per_second']:.2f}"
                 if limit and row.get("words_per_second") else "-")
        rounds = ", ".join(f"{t:g}" for t in row.get("round_seconds", []))
        lines.append(
            f"| {row['method']} | {row['words_per_second']} | {row['seconds']} | {rounds} | {ratio} | "
            f"{row['peak_rss_mb']} | {row['rss_added_mb']} |"
        )
    if results.get("ratios"):
        lines += ["", " · ".join(f"{k}: {v}" for k, v in results["ratios"].items())]
    if results.get("padding"):
        lines += ["", " · ".join(f"{k}: {v}" for k, v in results["padding"].items())]
    if results.get("f1"):
        lines += ["", "| F1 on the whole file | precision | recall | F1 | predicted entities |", "|---|---|---|---|---|"]
        for name, r in results["f1"].items():
            if isinstance(r, dict):
                lines.append(f"| {name} | {100 * r['precision']:.2f} | {100 * r['recall']:.2f} | "
                             f"{100 * r['f1']:.2f} | {r['n_pred_entities']} |")
        for key, value in results["f1"].items():
            if key.endswith("F1 cost (points)"):
                lines.append(f"\n{key.replace(' (points)', '')}: {value} points")
    if results.get("breakdown"):
        b = results["breakdown"]
        lines += ["", f"Where the time of nlp.pipe (length-bucketed) goes: one instrumented run, "
                  f"{b['total_seconds']} s", "", "| step | seconds | share |", "|---|---|---|"]
        for k, v in b["steps"].items():
            lines.append(f"| {k} | {v} | {100 * b['shares'][k]:.1f}% |")
    if results.get("memory_vs_docs"):
        lines += ["", "| docs streamed (one nlp.pipe) | RSS MB | growth from start MB | growth since first count MB | seconds |",
                  "|---|---|---|---|---|"]
        for r in results["memory_vs_docs"]:
            lines.append(f"| {r['docs']} | {r['rss_mb']} | {r['growth_from_start_mb']} | "
                         f"{r['growth_since_first_count_mb']} | {r['seconds']} |")
        first = results["memory_vs_docs"][0]
        lines.append(f"\nRSS before the stream: {first['rss_before_stream_mb']} MB; after it and "
                     f"glibc malloc_trim(0): {first['rss_after_malloc_trim_mb']} MB")
    if results.get("time_vs_length"):
        lines += ["", "| document words | spaCy tokens | windows | wordpieces (windows overlap) | seconds | ms/word | words/s |",
                  "|---|---|---|---|---|---|---|"]
        for r in results["time_vs_length"]:
            lines.append(f"| {r['words']} | {r['tokens']} | {r['windows']} | {r['wordpieces']} | {r['seconds']} | "
                         f"{r['ms_per_word']} | {r['words_per_second']} |")
    return "\n".join(lines) + "\n"



@dataclass
class Bench:
    """What the arms run on: the texts, the pipeline, and the HF token
    classifier made of the pipeline's transformer weights."""

    nlp: Any
    texts: List[str]
    classifier: Any
    tokenizer: Any
    buckets: Dict[str, int]
    batch_size: int
    rounds: int


def set_up(model: Optional[str], base_model: str, texts_path: Path, limit: int, batch_size: int,
           rounds: int, threads: int) -> Bench:
    """Load (or build) the pipeline and its HF counterpart; warm both up."""
    import spacy
    import torch

    if threads:
        torch.set_num_threads(threads)
    texts = read_texts(texts_path, limit or None)
    nlp = spacy.load(model) if model else build_untrained(base_model, texts)
    buckets = bucket_settings(nlp)
    encoder, tokenizer, n_tags = hf_objects(nlp)
    classifier = token_classifier(encoder, tokenizer, n_tags)
    # warm-up: the first batch of each path pays for lazy initialisation
    list(nlp.pipe(texts[:8]))
    time_bare_forward(classifier, tokenizer, texts[:8], batch_size)
    return Bench(nlp, texts, classifier, tokenizer, buckets, batch_size, rounds)


def bench_settings(b: Bench, model: Optional[str], base_model: str, texts_path: Path) -> Dict[str, Any]:
    """The run's settings and machine, for the report."""
    import platform

    import torch

    return {
        "model": model or f"untrained transformer + biobert_ner on {base_model}",
        "architecture": b.nlp.config["components"][transformer_pipe(b.nlp).name]["model"].get("@architectures"),
        "texts": str(texts_path), "docs": len(b.texts), "words": n_words(b.texts),
        "batch_size": b.batch_size, "buckets": b.buckets, "threads": torch.get_num_threads(), "rounds": b.rounds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "load_average_before": list(os.getloadavg()),
    }


def time_fp32(b: Bench, extra_arms: Sequence[Tuple[str, Callable[[], Dict[str, Any]]]] = ()
              ) -> Dict[str, Dict[str, Any]]:
    """The five fp32 arms (and `extra_arms`: the ONNX ones), best of interleaved rounds."""
    nlp, texts, bs, classifier, tokenizer = b.nlp, b.texts, b.batch_size, b.classifier, b.tokenizer
    return best_of_rounds([
        ("spacy_one_pass", lambda: time_spacy(
            nlp, texts, bs, False, "spaCy nlp.pipe, one padded pass per batch (spacy-transformers)")),
        ("spacy", lambda: time_spacy(
            nlp, texts, bs, True, "spaCy nlp.pipe, length-bucketed (spacy-biobert.TransformerModel.v1)")),
        ("hf", lambda: time_hf_pipeline(classifier, tokenizer, texts, bs)),
        ("bare_sorted", lambda: time_bare_forward(classifier, tokenizer, texts, bs)),
        ("bare", lambda: time_bare_forward(classifier, tokenizer, texts, bs, buckets=b.buckets)),
        *extra_arms,
    ], b.rounds)


def fp32_ratios(t: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Words/s ratios of the fp32 arms."""
    wps = {k: r["words_per_second"] for k, r in t.items()}
    return {
        "spaCy / limit": round(wps["spacy"] / wps["bare"], 3),
        "spaCy / HF pipeline": round(wps["spacy"] / wps["hf"], 3),
        "spaCy one-pass / limit": round(wps["spacy_one_pass"] / wps["bare"], 3),
        "spaCy length-bucketed / one-pass": round(wps["spacy"] / wps["spacy_one_pass"], 3),
        "HF pipeline / limit": round(wps["hf"] / wps["bare"], 3),
        "limit / offline-sorted bare": round(wps["bare"] / wps["bare_sorted"], 3),
    }


def padding(t: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Padding and forward passes of the bare forward, bucketed vs sorted offline."""
    return {
        "limit: padded/real wordpieces": round(t["bare"]["padded_wordpieces"] / t["bare"]["wordpieces"], 3),
        "offline-sorted: padded/real": round(t["bare_sorted"]["padded_wordpieces"] / t["bare_sorted"]["wordpieces"], 3),
        "forward passes (limit, offline)": f"{t['bare']['forward_passes']}, {t['bare_sorted']['forward_passes']}",
    }


def fp32_f1(b: Bench, f1_path: Path) -> Dict[str, Any]:
    """F1 of the (length-bucketed) fp32 pipeline on the whole IOB file."""
    from ..layers.length_buckets import use_length_buckets

    use_length_buckets(b.nlp, enabled=True)
    return {"fp32": f1_on(b.nlp, f1_path)}


def scaling(b: Bench, results: Dict[str, Any], stream_docs: str, lengths: str, repeats: int) -> None:
    """Memory vs documents streamed and time vs document length (each unless
    its list is empty), into `results`, with the time and wordpiece ratios."""
    if stream_docs:
        counts = [int(c) for c in stream_docs.split(",")]
        results["memory_vs_docs"] = memory_vs_docs(b.nlp, b.texts, counts, b.batch_size)
    if lengths:
        words = [int(n) for n in lengths.split(",")]
        results["time_vs_length"] = time_vs_length(b.nlp, b.texts, words, repeats)
        tl = results["time_vs_length"]
        if len(tl) >= 2 and tl[0]["seconds"]:
            results["ratios"][f"time {tl[-1]['words']} / {tl[0]['words']} words"] = round(
                tl[-1]["seconds"] / tl[0]["seconds"], 2)
            if tl[0]["wordpieces"]:
                results["ratios"][f"wordpieces {tl[-1]['words']} / {tl[0]['words']} words"] = round(
                    tl[-1]["wordpieces"] / tl[0]["wordpieces"], 2)


def time_int8(b: Bench, results: Dict[str, Any], f1_path: Optional[Path]) -> None:
    """Quantise the pipeline's encoder (in place) and the bare model; time
    them, best of interleaved rounds, and score the int8 pipeline's F1 if
    asked; into `results`."""
    nlp, texts, bs, tokenizer = b.nlp, b.texts, b.batch_size, b.tokenizer
    wps = {k: r["words_per_second"] for k, r in results["throughput"].items()}
    quantize_pipeline(nlp)
    qclassifier = quantize(b.classifier)
    list(nlp.pipe(texts[:8]))
    rows = best_of_rounds([
        ("spacy", lambda: time_spacy(nlp, texts, bs, True, "spaCy nlp.pipe, length-bucketed")),
        ("bare", lambda: time_bare_forward(qclassifier, tokenizer, texts, bs, buckets=b.buckets,
                                           name="bare forward, same buffers and buckets")),
    ], b.rounds)
    for row in rows.values():
        row["method"] = "int8 dynamic: " + row["method"]
    results["int8"] = {"int8_spacy": rows["spacy"], "int8_bare": rows["bare"]}
    results["ratios"]["spaCy int8 / spaCy fp32"] = round(rows["spacy"]["words_per_second"] / wps["spacy"], 3)
    results["ratios"]["bare int8 / bare fp32"] = round(rows["bare"]["words_per_second"] / wps["bare"], 3)
    if f1_path is not None:
        results["f1"]["int8"] = f1_on(nlp, f1_path)
        results["f1"]["int8 F1 cost (points)"] = round(
            100 * (results["f1"]["fp32"]["f1"] - results["f1"]["int8"]["f1"]), 2)


def run_throughput(
    model: Optional[str] = None, base_model: str = "embedded", texts: Path = DEFAULT_TEXTS, limit: int = 300,
    batch_size: int = 32, rounds: int = 3, threads: int = 0, int8: bool = False, f1: bool = False,
    breakdown: bool = True, stream_docs: str = "400,800,1600,3200", lengths: str = "1000,10000", repeats: int = 2,
    onnx: Optional[bool] = None, onnx_cache: Optional[str] = None,
) -> Dict[str, Any]:
    """The whole benchmark (see the module's docstring); RETURNS its results.
    onnx None: the ONNX arms if onnxruntime is installed (else skipped, said
    in the settings); True: required (E2131 without it)."""
    import importlib.util

    from . import throughput_onnx as tox

    have_ort = importlib.util.find_spec("onnxruntime") is not None
    b = set_up(model, base_model, texts, limit, batch_size, rounds, threads)
    results: Dict[str, Any] = {"settings": bench_settings(b, model, base_model, texts)}
    if onnx is None:
        onnx = have_ort
        if not have_ort:
            results["settings"]["onnx"] = "skipped: onnxruntime is not installed (pip install 'spacy-biobert[onnx]')"
            sys.stderr.write(results["settings"]["onnx"] + "\n")
    states = tox.runtime_states(b.nlp, onnx_cache) if onnx else None
    if states is not None:
        tox.warm_up(b.nlp, states, b.texts)
    results["throughput"] = time_fp32(b, tox.onnx_arms(b, states) if states else ())
    results["ratios"] = fp32_ratios(results["throughput"])
    if states is not None:
        results["ratios"].update(tox.onnx_ratios(results["throughput"]))
    results["padding"] = padding(results["throughput"])
    if breakdown:
        results["breakdown"] = nlp_pipe_breakdown(b.nlp, b.texts, b.batch_size)
    f1_path = texts if f1 and is_iob(texts) else None
    if f1_path is not None:
        results["f1"] = fp32_f1(b, f1_path)
        if states is not None:
            results["f1"].update(tox.onnx_f1(b, states, f1_path, results["f1"]["fp32"]))
    scaling(b, results, stream_docs, lengths, repeats)
    if int8:
        time_int8(b, results, f1_path)
    results["settings"]["load_average_after"] = list(os.getloadavg())
    return results


def throughput_command(
    model: Optional[str] = typer.Option(None, "--model", help="trained pipeline folder (default: an untrained one on --base-model)"),
    base_model: str = typer.Option("embedded", "--base-model"),
    texts: Path = typer.Option(DEFAULT_TEXTS, "--texts", help="IOB .tsv or a text file (one text per line)"),
    limit: int = typer.Option(300, "--limit", help="at most this many texts (0: all)"),
    batch_size: int = typer.Option(32, "--batch-size", help="nlp.pipe batch size; the bare forward's buffer"),
    rounds: int = typer.Option(3, "--rounds", help="interleaved rounds; the fastest of each method is kept"),
    threads: int = typer.Option(0, "--threads", help="torch threads (0: torch's default)"),
    int8: bool = typer.Option(False, "--quantize", help="also time int8 dynamic quantisation"),
    f1: bool = typer.Option(False, "--f1", help="F1 on the whole --texts IOB file (fp32, and int8 with --quantize)"),
    no_breakdown: bool = typer.Option(False, "--no-breakdown", help="skip the instrumented nlp.pipe run"),
    stream_docs: str = typer.Option("400,800,1600,3200", "--stream-docs", help="memory vs docs: counts, comma-separated ('' to skip)"),
    lengths: str = typer.Option("1000,10000", "--lengths", help="time vs length: words, comma-separated ('' to skip)"),
    repeats: int = typer.Option(2, "--repeats"),
    onnx: Optional[bool] = typer.Option(None, "--onnx/--no-onnx", help="also time (and score, with --f1) the transformer on ONNX Runtime, fp32 and int8 (default: if onnxruntime is installed)"),
    onnx_cache: Optional[str] = typer.Option(None, "--onnx-cache", help="folder of the cached ONNX exports (default: SPACY_BIOBERT_ONNX_CACHE, else the user cache)"),
    output: Optional[Path] = typer.Option(None, "--output", help="JSON results"),
    markdown_path: Optional[Path] = typer.Option(None, "--markdown", help="markdown table"),
) -> Dict[str, Any]:
    """Inference throughput of a spacy-biobert NER pipeline, against Hugging Face and the bare model."""
    results = run_throughput(model, base_model, texts, limit, batch_size, rounds, threads, int8, f1,
                             not no_breakdown, stream_docs, lengths, repeats, onnx, onnx_cache)
    table = markdown(results)
    sys.stdout.write(table)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    if markdown_path:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(table, encoding="utf8")
    return results


app = typer.Typer(add_completion=False)
app.command()(throughput_command)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the command line on `argv` (default: sys.argv[1:]); RETURNS the results."""
    command = typer.main.get_command(app)
    return command.main(args=argv, prog_name="python -m spacy_biobert.benchmarks.throughput", standalone_mode=False)


if __name__ == "__main__":
    app()
