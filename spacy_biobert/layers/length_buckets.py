"""Length-bucketed inference for the spacy-transformers encoder.

spacy-transformers runs the encoder once per batch of documents, padded to the
batch's longest window. ``nlp.pipe`` gives the transformer component
``batch_size`` documents at a time and its ``max_batch_items`` (counted in
spaCy tokens) splits them only when they are long, so a batch of 32
NCBI-disease test sentences is one forward pass padded to the longest of the
32: 2.3x the real wordpieces (measured: 24,024 padded for 10,559 real on the
first 300 test sentences). The encoder's cost is about linear in padded
wordpieces, so that is 2.3x the compute.

At prediction time (``is_train=False``) ``bucketed_hf_forward`` splits each
batch's windows into groups of similar wordpiece length (the grouping that
minimises padded wordpieces plus ``batch_overhead`` per forward pass, by
dynamic programming over the windows sorted by length), runs the encoder on
each group trimmed to its own longest window, under ``torch.inference_mode``,
and puts the outputs back in the batch's order and padded shape, so everything
downstream (alignment, listeners, ``doc._.trf_data``) is unchanged. The
windows themselves (``get_spans``) are unchanged too: every token is still
covered. Training (``is_train=True``) takes spacy-transformers' path as is.

Use it through the ``spacy-biobert.TransformerModel.v1`` architecture (the
configs' default), or on a pipeline saved with
``spacy-transformers.TransformerModel.v3`` with ``use_length_buckets(nlp)``
after loading (same weights, same predictions up to float rounding).
"""

from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy
from thinc.api import Model

from ..errors import Errors
from .hf import hf_wrapper, mixed_precision, set_forward, torch_module

# Padded wordpieces one more forward pass is worth: the fixed cost of a call
# (Python, dispatch) in units of the per-wordpiece cost. Measured on CPU with
# all-MiniLM-L6-v2, one thread: ~11 ms per call, ~0.75 ms per wordpiece (~15);
# 32 leaves room for more threads. On a GPU a call costs far more wordpieces:
# raise it (e.g. 1024).
DEFAULT_BATCH_OVERHEAD = 32


# Most padded wordpieces (windows x longest window) in one forward pass: bounds
# the activation memory of a long document's many windows.
DEFAULT_MAX_BATCH_ITEMS = 4096


# Windows per group considered by the search (bounds its cost).
_MAX_GROUP = 256


def length_buckets(
    lengths: Sequence[int],
    *,
    batch_overhead: int = DEFAULT_BATCH_OVERHEAD,
    max_batch_items: int = DEFAULT_MAX_BATCH_ITEMS,
) -> List[List[int]]:
    """Group sequences of similar length into forward passes.

    Minimises the sum over groups of ``batch_overhead + size * longest`` (padded
    wordpieces plus a fixed cost per pass), over groups that are runs of the
    sequences sorted by length, each of at most `max_batch_items` padded items
    (a single longer sequence gets a group of its own).

    lengths (Sequence[int]): the sequences' real lengths.
    batch_overhead (int): the fixed cost of one pass, in padded items.
    max_batch_items (int): most padded items (size * longest) in one group.
    RETURNS (List[List[int]]): indices into `lengths`, per group, shortest
        group first, ascending indices within a group.
    """
    n = len(lengths)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: (lengths[i], i))
    srt = [max(int(lengths[i]), 1) for i in order]
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = srt[j - 1]
        for i in range(j - 1, max(-1, j - 1 - _MAX_GROUP), -1):
            size = j - i
            if size > 1 and size * longest > max_batch_items:
                break
            cost = best[i] + batch_overhead + size * longest
            if cost < best[j]:
                best[j] = cost
                cut[j] = i
    groups: List[List[int]] = []
    j = n
    while j > 0:
        i = cut[j]
        groups.append(sorted(order[i:j]))
        j = i
    groups.reverse()
    return groups


def bucketed_hf_forward(model: Model, wordpieces: Any, is_train: bool) -> Tuple[Any, Callable]:
    """Forward of spacy-transformers' HFWrapper layer, length-bucketed when predicting.

    model (Model): the HFWrapper (``TransformerModel.layers[0]``), with
        attrs ``batch_overhead`` and ``max_batch_items``.
    wordpieces (WordpieceBatch): the batch's windows, padded to the longest.
    RETURNS: the encoder's output for the whole batch (same shapes as one
        padded pass; positions past the longest window of a window's group
        are zeros, padding is never read downstream) and a backprop
        callback (training goes through the unbucketed path).
    """
    from thinc.layers.pytorchwrapper import forward as pt_forward

    from .onnx_runtime import get_runtime, mark_trained, runtime_encoder

    if is_train:
        mark_trained(model)
        return pt_forward(model, wordpieces, is_train)
    groups = _groups(model, wordpieces)
    on_torch = get_runtime(model) == "torch"
    if groups is None:
        if on_torch:
            return _inference(pt_forward, model, wordpieces)
        n, width = wordpieces.input_ids.shape
        groups = [(list(range(n)), width)]
    import torch

    convert_inputs = model.attrs["convert_inputs"]
    convert_outputs = model.attrs["convert_outputs"]
    hf_model = torch_module(model)
    n, width = wordpieces.input_ids.shape
    merged: Optional[dict] = None
    output_cls = None
    encoder: Any = hf_model if on_torch else None
    # What PyTorchShim.predict does per call (eval mode, no autograd, autocast
    # if mixed precision), once for all the groups: switching the modules to
    # eval and back for every group cost 1.3% of nlp.pipe's time (py-spy).
    was_training = hf_model.training
    hf_model.eval()
    try:
        with torch.inference_mode(), torch.autocast(
            device_type="cuda", enabled=mixed_precision(model)
        ):
            for rows, length in groups:
                args, _ = convert_inputs(model, _take(wordpieces, rows, length), False)
                if encoder is None:  # one weights check per forward, not per group
                    encoder = runtime_encoder(model, args.kwargs)
                out = encoder(*args.args, **args.kwargs)
                if merged is None:
                    output_cls = type(out)
                    merged = {k: _alloc(v, n, width) for k, v in out.items()}
                    if any(v is None for v in merged.values()):
                        # an output we cannot put back together: the plain path
                        return _inference(pt_forward, model, wordpieces)
                index = torch.as_tensor(rows, dtype=torch.long, device=_device(out))
                for key, value in out.items():
                    _scatter(merged[key], value, index, length)
    finally:
        hf_model.train(was_training)
    assert merged is not None and output_cls is not None
    model_output = output_cls(**merged)
    return convert_outputs(model, (wordpieces, model_output), False)


def _inference(pt_forward: Callable, model: Model, wordpieces: Any) -> Tuple[Any, Callable]:
    import torch

    with torch.inference_mode():
        return pt_forward(model, wordpieces, False)


def _groups(model: Model, wordpieces: Any) -> Optional[List[Tuple[List[int], int]]]:
    """(rows, trimmed width) per group, or None when one pass is as good (or
    the padding is not on the right)."""
    mask = numpy.asarray(wordpieces.attention_mask)
    if mask.ndim != 2 or mask.shape[0] < 2:
        return None
    lengths = (mask != 0).sum(axis=1)
    # right padding only: every row's ones come first
    if not (mask[numpy.arange(mask.shape[1])[None, :] >= lengths[:, None]] == 0).all():
        return None
    buckets = length_buckets(
        [int(x) for x in lengths],
        batch_overhead=model.attrs.get("batch_overhead", DEFAULT_BATCH_OVERHEAD),
        max_batch_items=model.attrs.get("max_batch_items", DEFAULT_MAX_BATCH_ITEMS),
    )
    if len(buckets) == 1:
        return None
    return [(rows, max(1, int(lengths[rows].max()))) for rows in buckets]


def _take(wordpieces: Any, rows: List[int], length: int) -> Any:
    """The WordpieceBatch of `rows`, trimmed to `length` positions."""
    from spacy_transformers.data_classes import WordpieceBatch

    idx = numpy.asarray(rows)
    tt = wordpieces.token_type_ids
    return WordpieceBatch(
        strings=[wordpieces.strings[i][:length] for i in rows],
        input_ids=wordpieces.input_ids[idx, :length],
        attention_mask=wordpieces.attention_mask[idx, :length],
        lengths=[wordpieces.lengths[i] for i in rows],
        token_type_ids=tt[idx, :length] if tt is not None else None,
    )


def _device(out: Any) -> Any:
    for value in out.values():
        if hasattr(value, "device"):
            return value.device
        if isinstance(value, tuple) and value and hasattr(value[0], "device"):
            return value[0].device
    return "cpu"


def _alloc(value: Any, n: int, width: int) -> Any:
    """A zero tensor (or tuple of them) for the whole batch, shaped like
    `value`: (batch, positions, ...) for 3+-d tensors, (batch, features) for
    2-d ones (the pooler output); None for anything else (e.g. attentions,
    whose positions are not the second axis)."""
    import torch

    if isinstance(value, torch.Tensor):
        if value.dim() == 3:
            shape: Tuple[int, ...] = (n, width, value.shape[2])
        elif value.dim() == 2:
            shape = (n, value.shape[1])
        else:
            return None
        return torch.zeros(shape, dtype=value.dtype, device=value.device)
    if isinstance(value, tuple) and value:
        parts = tuple(_alloc(v, n, width) for v in value)
        return None if any(p is None for p in parts) else parts
    return None


def _scatter(dest: Any, value: Any, index: Any, length: int) -> None:
    if isinstance(dest, tuple):
        for d, v in zip(dest, value):
            _scatter(d, v, index, length)
    elif dest.dim() == 3:
        dest[index, :length] = value
    else:
        dest[index] = value


def use_length_buckets(
    nlp: Any,
    *,
    batch_overhead: Optional[int] = None,
    max_batch_items: Optional[int] = None,
    enabled: bool = True,
) -> List[str]:
    """Switch every spacy-transformers ``transformer`` component of a loaded
    pipeline to length-bucketed prediction (for pipelines saved with
    ``spacy-transformers.TransformerModel.v3``; the config is not changed, so
    call it again after loading). `enabled=False` switches back to
    spacy-transformers' one padded pass per batch.

    batch_overhead (Optional[int]): see length_buckets; None keeps the model's
        setting (from spacy-biobert.TransformerModel.v1), else the default 32.
    max_batch_items (Optional[int]): likewise; default 4096.
    RETURNS (List[str]): the names of the components switched.
    """
    from spacy_transformers import Transformer

    names = []
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, Transformer):
            set_length_buckets(
                pipe.model, batch_overhead=batch_overhead, max_batch_items=max_batch_items,
                enabled=enabled,
            )
            names.append(name)
    return names


def set_length_buckets(
    trf_model: Model, *, batch_overhead: Optional[int] = None,
    max_batch_items: Optional[int] = None, enabled: bool = True,
) -> Model:
    """Make a spacy-transformers TransformerModel predict length-bucketed
    (`enabled=False`: back to spacy-transformers' one pass per batch)."""
    from thinc.layers.pytorchwrapper import forward as pt_forward

    if (batch_overhead is not None and batch_overhead < 0) or (
        max_batch_items is not None and max_batch_items < 1
    ):
        raise ValueError(Errors.E2103.format(batch_overhead=batch_overhead, max_batch_items=max_batch_items))
    wrapper = hf_wrapper(trf_model)
    set_forward(wrapper, bucketed_hf_forward if enabled else pt_forward)
    if batch_overhead is not None or "batch_overhead" not in wrapper.attrs:
        wrapper.attrs["batch_overhead"] = int(DEFAULT_BATCH_OVERHEAD if batch_overhead is None else batch_overhead)
    if max_batch_items is not None or "max_batch_items" not in wrapper.attrs:
        wrapper.attrs["max_batch_items"] = int(DEFAULT_MAX_BATCH_ITEMS if max_batch_items is None else max_batch_items)
    return trf_model
