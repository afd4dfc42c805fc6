"""The one module that reaches into spacy-transformers' and Hugging Face's
internals: the ``HFWrapper`` layer, its ``HFShim`` and the ``HFObjects`` it
holds (tokenizer, transformer, configs), and thinc's forward function slot.

Every accessor takes either the HFWrapper itself or a model whose first layer
is one: spacy-transformers' ``TransformerModel`` and this package's encoders
(``PairEncoder``, ``WordpieceEncoder``).
"""

from typing import Any, Callable, Dict, Optional, Tuple

from spacy_transformers.data_classes import HFObjects
from spacy_transformers.layers.hf_wrapper import HFWrapper
from spacy_transformers.layers.transformer_model import huggingface_from_pretrained
from thinc.api import Model


def make_hf_wrapper(
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
    *,
    convert_inputs: Callable,
    convert_outputs: Callable,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[Dict[str, Any]] = None,
) -> Model:
    """An HFWrapper layer with no model loaded yet (see `load_pretrained`).

    tokenizer_config, transformer_config (Dict[str, Any]): kwargs of
        AutoTokenizer / AutoConfig.from_pretrained, kept for initialization.
    convert_inputs, convert_outputs (Callable): the wrapper's converters.
    RETURNS (Model): the HFWrapper.
    """
    return HFWrapper(
        HFObjects(None, None, None, dict(tokenizer_config), dict(transformer_config)),
        convert_inputs=convert_inputs,
        convert_outputs=convert_outputs,
        mixed_precision=mixed_precision,
        grad_scaler_config=dict(grad_scaler_config or {}),
    )


def load_pretrained(model: Model, name: str) -> None:
    """Load the tokenizer and transformer `name` (hub name or folder) with the
    configs `model` was created with, and install them in its shim."""
    set_hf_objects(model, huggingface_from_pretrained(name, *init_configs(model)))


def hf_wrapper(model: Model) -> Model:
    """RETURNS (Model): the HFWrapper layer of `model` (`model` itself if it is one)."""
    return model if model.shims else model.layers[0]


def hf_shim(model: Model) -> Any:
    """RETURNS (HFShim): the shim holding the PyTorch module."""
    return hf_wrapper(model).shims[0]


def hf_objects(model: Model) -> Any:
    """RETURNS (HFObjects): tokenizer, transformer and their init configs."""
    return hf_shim(model)._hfmodel


def hf_tokenizer(model: Model) -> Any:
    """RETURNS: the Hugging Face tokenizer (None before initialization)."""
    return hf_objects(model).tokenizer


def hf_transformer(model: Model) -> Any:
    """RETURNS: the Hugging Face transformer (None before initialization)."""
    return hf_objects(model).transformer


def torch_module(model: Model) -> Any:
    """RETURNS (torch.nn.Module): the module the shim runs (the transformer,
    or what replaced it, e.g. a quantised copy)."""
    return hf_shim(model)._model


def mixed_precision(model: Model) -> bool:
    """RETURNS (bool): whether the shim runs the module under autocast."""
    return bool(getattr(hf_shim(model), "_mixed_precision", False))


def transformer_device(model: Model) -> Any:
    """RETURNS (torch.device): the device of the transformer's weights."""
    return hf_transformer(model).device


def init_configs(model: Model) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """RETURNS (Tuple[dict, dict]): copies of the tokenizer and transformer
    configs the model was created with (from_pretrained kwargs)."""
    hf = hf_objects(model)
    return dict(hf._init_tokenizer_config), dict(hf._init_transformer_config)


def set_hf_objects(model: Model, hf_model: Any) -> None:
    """Install loaded HFObjects (tokenizer, transformer, vocab files) in the shim."""
    shim = hf_shim(model)
    shim._model = hf_model.transformer
    shim._hfmodel.tokenizer = hf_model.tokenizer
    shim._hfmodel.transformer = hf_model.transformer
    shim._hfmodel.vocab_file_contents = hf_model.vocab_file_contents


def set_hf_transformer(model: Model, transformer: Any) -> None:
    """Run (and serialize) `transformer` in place of the model's transformer."""
    shim = hf_shim(model)
    shim._model = transformer
    shim._hfmodel.transformer = transformer


def set_forward(model: Model, forward: Callable) -> None:
    """Replace the forward function of `model`'s HFWrapper (thinc's Model._func)."""
    hf_wrapper(model)._func = forward


def runtime_state(model: Model) -> Any:
    """RETURNS: the prediction runtime state set by `set_runtime_state` (None
    if never set). Kept on the shim, outside the model's serialized attrs, so
    the config's setting (and overrides at load) decide it, not a saved value."""
    return getattr(hf_shim(model), "_spacy_biobert_runtime", None)


def set_runtime_state(model: Model, state: Any) -> None:
    """Attach the prediction runtime state (layers.onnx_runtime) to the shim."""
    hf_shim(model)._spacy_biobert_runtime = state
