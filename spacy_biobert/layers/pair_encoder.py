"""A Thinc layer that encodes texts with a Hugging Face model and returns the
vector of the first wordpiece ([CLS]) of each: the sentence encoder of the
relation extractor (one text per candidate pair, entities replaced by tags).

It owns its transformer, wrapped through spacy-transformers' ``HFWrapper`` /
``HFShim``, so the weights, the model config and the tokenizer files are
serialized with the Thinc model (``nlp.to_disk``, ``to_bytes``), exactly as
spacy-transformers serializes its ``transformer`` component: a saved pipeline
never needs the base model again.
"""

from typing import Any, Callable, Dict, List, Optional, Tuple

from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats2d

from ..errors import Errors
from .hf import (
    hf_tokenizer,
    hf_transformer,
    load_pretrained,
    make_hf_wrapper,
    transformer_device,
)

InT = List[str]


OutT = Floats2d


def PairEncoder(
    name: str,
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
    *,
    max_length: int = 512,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[Dict[str, Any]] = None,
) -> Model[InT, OutT]:
    """Texts -> [CLS] vectors of a Hugging Face encoder.

    name (str): base model (hub name or folder), loaded at initialization.
    tokenizer_config (Dict[str, Any]): kwargs of AutoTokenizer.from_pretrained.
    transformer_config (Dict[str, Any]): kwargs of AutoConfig.from_pretrained.
    max_length (int): most wordpieces per text, [CLS] and [SEP] included; the
        effective limit is the smallest of this, the model's position
        embeddings and the tokenizer's model_max_length (see max_wordpieces).
    RETURNS (Model[List[str], Floats2d]): one row per text.
    """
    if max_length < 3:
        raise ValueError(Errors.E2102.format(max_length=max_length))
    return hf_encoder_model(
        "biobert_pair_encoder", _forward, _init, _convert_inputs, _convert_outputs,
        name=name, tokenizer_config=tokenizer_config, transformer_config=transformer_config,
        max_length=max_length, mixed_precision=mixed_precision, grad_scaler_config=grad_scaler_config,
    )


def hf_encoder_model(
    model_name: str,
    forward: Callable,
    init: Callable,
    convert_inputs: Callable,
    convert_outputs: Callable,
    *,
    name: str,
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
    max_length: int,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[Dict[str, Any]] = None,
) -> Model:
    """A thinc Model around one HFWrapper whose Hugging Face model is loaded at
    initialization (`init`, e.g. this module's `_init`): the shared body of the
    pair encoder and the QA span encoder.

    model_name (str): the thinc Model's name.
    forward, init (Callable): the Model's forward and init functions.
    convert_inputs, convert_outputs (Callable): the HFWrapper's converters.
    name (str): base model (hub name or folder); model.attrs["name"].
    RETURNS (Model): with attrs name, has_transformer (False) and max_length.
    """
    wrapper = make_hf_wrapper(
        tokenizer_config, transformer_config, convert_inputs=convert_inputs,
        convert_outputs=convert_outputs, mixed_precision=mixed_precision,
        grad_scaler_config=grad_scaler_config,
    )
    return Model(
        model_name,
        forward,
        init=init,
        layers=[wrapper],
        dims={"nO": None},
        attrs={"name": name, "has_transformer": False, "max_length": max_length},
    )


def get_tokenizer(model: Model) -> Any:
    """RETURNS: the Hugging Face tokenizer of a PairEncoder (None before init)."""
    return hf_tokenizer(model)


def max_wordpieces(model: Model) -> int:
    """The most wordpieces a text may have, [CLS] and [SEP] included.

    RETURNS (int): min(max_length, max_position_embeddings, model_max_length).
    """
    limit = int(model.attrs["max_length"])
    transformer, tokenizer = hf_transformer(model), hf_tokenizer(model)
    if transformer is not None:
        limit = min(limit, int(getattr(transformer.config, "max_position_embeddings", limit)))
    if tokenizer is not None:
        limit = min(limit, int(min(tokenizer.model_max_length, 10**9)))
    return limit


def count_wordpieces(model: Model, texts: List[str]) -> List[int]:
    """Wordpieces of each text, [CLS] and [SEP] included."""
    if not texts:
        return []
    enc = get_tokenizer(model)(texts, add_special_tokens=True, truncation=False)
    return [len(ids) for ids in enc["input_ids"]]


def _init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    if model.attrs["has_transformer"]:
        if not model.has_dim("nO") or model.get_dim("nO") is None:
            hidden = hf_transformer(model).config.hidden_size
            model.set_dim("nO", hidden)
        return
    load_pretrained(model, model.attrs["name"])
    model.attrs["has_transformer"] = True
    model.set_dim("nO", hf_transformer(model).config.hidden_size)


def _forward(model: Model[InT, OutT], texts: InT, is_train: bool) -> Tuple[OutT, Callable]:
    width = model.get_dim("nO")
    if not texts:
        return model.ops.alloc2f(0, width), lambda d: []
    tokenizer = get_tokenizer(model)
    enc = tokenizer(
        texts, add_special_tokens=True, return_attention_mask=True,
        return_tensors="np", padding="longest", truncation=False,
    )
    limit = max_wordpieces(model)
    if enc["input_ids"].shape[1] > limit:
        raise ValueError(Errors.E2101.format(n=enc["input_ids"].shape[1], limit=limit))
    cls, backprop_wrapper = model.layers[0](enc, is_train)

    def backprop(d_cls: OutT) -> InT:
        backprop_wrapper(d_cls)
        return []

    return cls, backprop


def _convert_inputs(model: Model, enc: Any, is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    device = transformer_device(model)
    kwargs = {
        "input_ids": xp2torch(enc["input_ids"], device=device),
        "attention_mask": xp2torch(enc["attention_mask"], device=device),
    }
    if "token_type_ids" in enc:
        kwargs["token_type_ids"] = xp2torch(enc["token_type_ids"], device=device)
    return ArgsKwargs(args=(), kwargs=kwargs), lambda dX: []


def _convert_outputs(model: Model, inputs_outputs: Any, is_train: bool) -> Tuple[Floats2d, Callable]:
    _, output = inputs_outputs
    cls_torch = output.last_hidden_state[:, 0, :]
    cls = torch2xp(cls_torch.detach().float())

    def backprop(d_cls: Floats2d) -> ArgsKwargs:
        d_torch = xp2torch(d_cls, device=cls_torch.device).to(cls_torch.dtype)
        return ArgsKwargs(args=(cls_torch,), kwargs={"grad_tensors": (d_torch,)})

    return cls, backprop
