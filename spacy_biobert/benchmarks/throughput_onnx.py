"""The ONNX Runtime arms of the throughput benchmark (``--onnx``, the default):
the pipeline's transformer on ONNX Runtime, fp32 and int8
(``spacy_biobert.layers.onnx_runtime``), through ``nlp.pipe`` and as bare
forwards (the same session, the same buffers and length buckets as the eager
bare forward, with the HF classifier's head on top), interleaved with the
eager arms; and the F1 of each precision.

One ``nlp`` serves every arm: each arm attaches its runtime (a kept
``RuntimeState``, so the session is made once, at warm-up) and puts PyTorch
back when done."""

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ONNX_RUNTIMES = ("onnx-fp32", "onnx-int8")


def runtime_states(nlp, cache_dir: Optional[str]) -> Dict[str, Any]:
    """One RuntimeState per runtime ("torch" too) for the pipeline's transformer."""
    from ..layers.onnx_runtime import RuntimeState, check_runtime

    return {rt: RuntimeState(check_runtime(rt), cache_dir) for rt in ("torch",) + ONNX_RUNTIMES}


def attach(nlp, state: Any) -> None:
    """Predict with `state`'s runtime (length-bucketed)."""
    from ..layers.hf import set_runtime_state
    from ..layers.length_buckets import use_length_buckets
    from ..layers.onnx_runtime import _import_ort
    from .throughput_arms import transformer_pipe

    if state.runtime != "torch":
        _import_ort()
    use_length_buckets(nlp, enabled=True)
    set_runtime_state(transformer_pipe(nlp).model, state)


def on_runtime(nlp, states: Dict[str, Any], runtime: str, run: Callable[[], Any]) -> Any:
    """run() with the pipeline on `runtime`, PyTorch again afterwards."""
    attach(nlp, states[runtime])
    try:
        return run()
    finally:
        attach(nlp, states["torch"])


def warm_up(nlp, states: Dict[str, Any], texts: List[str]) -> None:
    """Export (or load from the cache) and open each runtime's session."""
    for rt in ONNX_RUNTIMES:
        on_runtime(nlp, states, rt, lambda: list(nlp.pipe(texts[:8])))


def bare_forward(state: Any, classifier: Any) -> Callable[[Any, Any], Any]:
    """forward(input_ids, attention_mask) on `state`'s session: the encoder,
    then the HF token classifier's head, then argmax (as the eager bare forward)."""
    import torch

    head = classifier.classifier

    def forward(ids: Any, mask: Any) -> Any:
        out = state.encoder(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
        return head(out.last_hidden_state).argmax(-1)

    return forward


def onnx_arms(b: Any, states: Dict[str, Any]) -> List[Tuple[str, Callable[[], Dict[str, Any]]]]:
    """The (key, run) pairs of the ONNX arms, to interleave with the eager ones."""
    from .throughput_arms import time_bare_forward

    nlp, texts, bs = b.nlp, b.texts, b.batch_size
    arms: List[Tuple[str, Callable[[], Dict[str, Any]]]] = []
    for rt in ONNX_RUNTIMES:
        key = rt.replace("-", "_")
        arms.append((f"{key}_spacy", _spacy_arm(nlp, states, rt, texts, bs)))
        arms.append((f"{key}_bare", lambda rt=rt: time_bare_forward(
            b.classifier, b.tokenizer, texts, bs, buckets=b.buckets,
            name=f"{rt} (ONNX Runtime): bare forward, same buffers and buckets",
            forward_fn=bare_forward(states[rt], b.classifier))))
    return arms


def _spacy_arm(nlp, states, rt: str, texts: List[str], bs: int) -> Callable[[], Dict[str, Any]]:
    from ..layers.onnx_runtime import get_runtime
    from .throughput_arms import time_spacy, transformer_pipe

    def timed() -> Dict[str, Any]:
        row = time_spacy(nlp, texts, bs, True, f"{rt} (ONNX Runtime): spaCy nlp.pipe, length-bucketed")
        row["runtime"] = get_runtime(transformer_pipe(nlp).model)  # what the timed run predicted on
        return row

    def run() -> Dict[str, Any]:
        return on_runtime(nlp, states, rt, timed)

    return run


def onnx_ratios(t: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The goals' ratios: each runtime's nlp.pipe against eager nlp.pipe and
    against its own bare forward; its bare forward against the eager one."""
    wps = {k: r["words_per_second"] for k, r in t.items()}
    ratios: Dict[str, Any] = {}
    for rt in ONNX_RUNTIMES:
        key = rt.replace("-", "_")
        ratios[f"{rt} nlp.pipe / eager nlp.pipe"] = round(wps[f"{key}_spacy"] / wps["spacy"], 3)
        ratios[f"{rt} nlp.pipe / {rt} bare"] = round(wps[f"{key}_spacy"] / wps[f"{key}_bare"], 3)
        ratios[f"{rt} bare / eager bare"] = round(wps[f"{key}_bare"] / wps["bare"], 3)
    return ratios


def onnx_f1(b: Any, states: Dict[str, Any], f1_path: Path, fp32: Dict[str, Any]) -> Dict[str, Any]:
    """F1 of the pipeline on each ONNX runtime (the whole IOB file), and each
    one's cost in points against eager fp32 (`fp32`: f1_on's result)."""
    from .throughput_arms import f1_on

    scores: Dict[str, Any] = {}
    for rt in ONNX_RUNTIMES:
        scores[rt] = on_runtime(b.nlp, states, rt, lambda: f1_on(b.nlp, f1_path))
        scores[f"{rt} F1 cost (points)"] = round(100 * (fp32["f1"] - scores[rt]["f1"]), 2)
    return scores
