"""Thinc layers of spacy-biobert (layer 2: imports only the foundation and base
modules, never the architectures that use them).

- ``PairEncoder``: texts -> [CLS] vectors (the relation extractor's encoder);
- ``WordpieceEncoder``: encoded windows -> wordpiece vectors (QA's encoder);
- length-bucketed inference for spacy-transformers' encoder
  (``use_length_buckets``, ``set_length_buckets``, ``length_buckets``);
- prediction on ONNX Runtime, fp32 or int8 (``use_runtime``, ``set_runtime``;
  ``onnx_runtime``);
- ``hf``: the accessors of spacy-transformers' / Hugging Face internals.
"""

from .hf import (
    hf_tokenizer,
    hf_transformer,
    hf_wrapper,
    set_hf_transformer,
    torch_module,
    transformer_device,
)
from .length_buckets import (
    DEFAULT_BATCH_OVERHEAD,
    DEFAULT_MAX_BATCH_ITEMS,
    bucketed_hf_forward,
    length_buckets,
    set_length_buckets,
    use_length_buckets,
)
from .onnx_runtime import RUNTIMES, get_runtime, set_runtime, use_runtime
from .pair_encoder import (
    PairEncoder,
    count_wordpieces,
    get_tokenizer,
    hf_encoder_model,
    max_wordpieces,
)
from .span_encoder import WordpieceEncoder

__all__ = [
    "PairEncoder",
    "WordpieceEncoder",
    "hf_encoder_model",
    "get_tokenizer",
    "max_wordpieces",
    "count_wordpieces",
    "length_buckets",
    "bucketed_hf_forward",
    "use_length_buckets",
    "set_length_buckets",
    "DEFAULT_BATCH_OVERHEAD",
    "DEFAULT_MAX_BATCH_ITEMS",
    "hf_wrapper",
    "hf_tokenizer",
    "hf_transformer",
    "torch_module",
    "transformer_device",
    "set_hf_transformer",
    "RUNTIMES",
    "use_runtime",
    "set_runtime",
    "get_runtime",
]
