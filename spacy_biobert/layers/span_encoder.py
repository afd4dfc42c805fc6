"""A Thinc layer that runs a Hugging Face encoder over already tokenized
windows and returns the last layer's vector of every wordpiece: the encoder of
the question-answering component (question + passage window as a text pair).

Like ``pair_encoder.PairEncoder`` it owns its transformer through
spacy-transformers' ``HFWrapper`` / ``HFShim``, so the weights, the model
config and the tokenizer are serialized with the Thinc model and a saved
pipeline never needs the base model again. The tokenizer is used by the
component (which builds the windows with its offset mapping); the layer only
takes the encoded batch.
"""

from typing import Any, Callable, Dict, Optional, Tuple

import numpy
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats3d

from ..errors import Errors
from .hf import transformer_device
from .pair_encoder import _init as _pair_init
from .pair_encoder import hf_encoder_model

# "input_ids", "attention_mask" and (for BERT) "token_type_ids": (n_windows, length) int arrays
WindowBatch = Dict[str, numpy.ndarray]


def WordpieceEncoder(
    name: str,
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
    *,
    max_length: int = 384,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[Dict[str, Any]] = None,
) -> Model[WindowBatch, Floats3d]:
    """Encoded windows -> last-layer wordpiece vectors.

    name (str): base model (hub name or folder), loaded at initialization.
    tokenizer_config (Dict[str, Any]): kwargs of AutoTokenizer.from_pretrained.
    transformer_config (Dict[str, Any]): kwargs of AutoConfig.from_pretrained.
    max_length (int): most wordpieces per window, special tokens included
        (the effective limit also respects the model, see pair_encoder.max_wordpieces).
    RETURNS (Model[WindowBatch, Floats3d]): (n_windows, length, width).
    """
    if max_length < 8:
        raise ValueError(Errors.E2104.format(what=f"max_length must be at least 8, got {max_length}"))
    return hf_encoder_model(
        "biobert_wordpiece_encoder", _forward, _pair_init, _convert_inputs, _convert_outputs,
        name=name, tokenizer_config=tokenizer_config, transformer_config=transformer_config,
        max_length=max_length, mixed_precision=mixed_precision, grad_scaler_config=grad_scaler_config,
    )


def _forward(model: Model, batch: WindowBatch, is_train: bool) -> Tuple[Floats3d, Callable]:
    hidden, backprop_wrapper = model.layers[0](batch, is_train)

    def backprop(d_hidden: Floats3d) -> WindowBatch:
        backprop_wrapper(d_hidden)
        return {}

    return hidden, backprop


def _convert_inputs(model: Model, batch: WindowBatch, is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    device = transformer_device(model)
    kwargs = {
        key: xp2torch(model.ops.asarray(batch[key], dtype="int64"), device=device)
        for key in ("input_ids", "attention_mask", "token_type_ids")
        if key in batch
    }
    return ArgsKwargs(args=(), kwargs=kwargs), lambda dX: []


def _convert_outputs(model: Model, inputs_outputs: Any, is_train: bool) -> Tuple[Floats3d, Callable]:
    _, output = inputs_outputs
    hidden_torch = output.last_hidden_state
    hidden = torch2xp(hidden_torch.detach().float())

    def backprop(d_hidden: Floats3d) -> ArgsKwargs:
        d_torch = xp2torch(d_hidden, device=hidden_torch.device).to(hidden_torch.dtype)
        return ArgsKwargs(args=(hidden_torch,), kwargs={"grad_tensors": (d_torch,)})

    return hidden, backprop
