"""Registered Thinc model builders."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import SimpleFrozenDict, registry
from thinc.api import (
    Dropout,
    Linear,
    Model,
    Ops,
    Softmax_v2,
    chain,
    with_array,
    zero_init,
)
from thinc.types import Floats2d, Floats3d, FloatsXd

InT = List[Doc]
OutT = List[Floats2d]


@registry.architectures("spacy-biobert.TokenClassifier.v1")
def build_token_classifier_v1(
    tok2vec: Model[InT, OutT], nO: Optional[int] = None, dropout: float = 0.1
) -> Model[InT, OutT]:
    """The paper's NER head: one output layer and a softmax over BIO2 tags, on
    top of the encoder's last layer.

    tok2vec (Model[List[Doc], List[Floats2d]]): token vectors, normally a
        spacy-transformers TransformerListener (wordpieces pooled per token).
    nO (Optional[int]): number of tags; set by the component from its labels.
    dropout (float): dropout on the token vectors before the output layer.
    RETURNS (Model[List[Doc], List[Floats2d]]): tag probabilities per token.
    """
    return _token_classifier(tok2vec, nO, dropout, zero_init)


@registry.architectures("spacy-biobert.TokenClassifier.v2")
def build_token_classifier_v2(
    tok2vec: Model[InT, OutT], nO: Optional[int] = None, dropout: float = 0.1, init_std: float = 0.02
) -> Model[InT, OutT]:
    """TokenClassifier.v1 with the output layer's weights drawn as BERT draws
    them (normal, std `init_std`, BERT's initializer_range 0.02) instead of
    thinc's zeros. With zero weights the encoder gets no gradient until the
    output layer has grown, and a small encoder whose token vectors are much
    alike (all-MiniLM-L6-v2) can sit for hundreds of steps predicting only the
    tag prior (measured: no entity at all on NCBI-disease dev after 150 steps).

    init_std (float): standard deviation of the output weights; 0 gives v1.
    """
    init_W = _normal_init(init_std) if init_std > 0 else zero_init
    return _token_classifier(tok2vec, nO, dropout, init_W)


def _token_classifier(
    tok2vec: Model[InT, OutT], nO: Optional[int], dropout: float, init_W: Callable[..., FloatsXd]
) -> Model[InT, OutT]:
    output_layer = Softmax_v2(nO=nO, normalize_outputs=True, init_W=init_W)
    head = with_array(chain(Dropout(dropout), output_layer))
    model: Model[InT, OutT] = Model(
        "biobert_token_classifier",
        _forward,
        init=_init,
        layers=[tok2vec, head],
        refs={"tok2vec": tok2vec, "output_layer": output_layer},
        dims={"nO": nO},
    )
    return model


def _normal_init(std: float) -> Callable[[Ops, Tuple[int, ...]], FloatsXd]:
    def init(ops: Ops, shape: Tuple[int, ...]) -> FloatsXd:
        # numpy's global RNG: seeded by spaCy's fix_random_seed ([training] seed)
        return ops.asarray(numpy.random.normal(0.0, std, shape).astype("float32"))

    return init


def _init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    tok2vec, head = model.layers
    if model.has_dim("nO") and model.get_dim("nO"):
        model.get_ref("output_layer").set_dim("nO", model.get_dim("nO"))
    tok2vec.initialize(X=X)
    if tok2vec.has_dim("nO") and tok2vec.get_dim("nO"):
        model.get_ref("output_layer").set_dim("nI", tok2vec.get_dim("nO"))
        head.initialize()
    else:
        vecs = tok2vec.predict(X) if X is not None else None
        head.initialize(X=[v for v in vecs if len(v)] if vecs else None, Y=Y)


def _forward(model: Model[InT, OutT], docs: InT, is_train: bool) -> Tuple[OutT, object]:
    """Token vectors -> tag probabilities. Empty docs are kept out of the
    output layer (their vectors can have width 0) and get a (0, nO) array."""
    tok2vec, head = model.layers
    vecs, bp_tok2vec = tok2vec(docs, is_train)
    n_tags = model.get_ref("output_layer").get_dim("nO")
    keep = [i for i, v in enumerate(vecs) if len(v)]
    if keep:
        probs, bp_head = head([vecs[i] for i in keep], is_train)
    else:
        probs, bp_head = [], None
    outputs: OutT = [model.ops.alloc2f(0, n_tags) for _ in docs]
    for i, p in zip(keep, probs):
        outputs[i] = p

    def backprop(d_outputs: OutT) -> object:
        d_vecs = [model.ops.alloc2f(*v.shape) for v in vecs]
        if bp_head is not None:
            for i, d in zip(keep, bp_head([d_outputs[i] for i in keep])):
                d_vecs[i] = d
        return bp_tok2vec(d_vecs)

    return outputs, backprop


@registry.architectures("spacy-biobert.TransformerModel.v1")
def build_transformer_model_v1(
    name: str,
    get_spans: Callable,
    tokenizer_config: Dict[str, Any] = SimpleFrozenDict(),
    transformer_config: Dict[str, Any] = SimpleFrozenDict(),
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = SimpleFrozenDict(),
    batch_overhead: int = 32,
    max_batch_items: int = 4096,
    runtime: str = "torch",
) -> Model[List[Doc], Any]:
    """spacy-transformers.TransformerModel.v3 (same arguments, same weights and
    serialization) that predicts length-bucketed: each batch's windows are run
    through the encoder in groups of similar wordpiece length instead of one
    pass padded to the longest (see spacy_biobert.layers.length_buckets). Training is
    unchanged.

    batch_overhead (int): the fixed cost of one forward pass, in padded
        wordpieces (CPU: ~32; GPU: raise it, e.g. 1024).
    max_batch_items (int): most padded wordpieces in one forward pass.
    runtime (str): what predicts: "torch" (PyTorch eager), "onnx-fp32" or
        "onnx-int8" (ONNX Runtime, exported on first use and cached; see
        spacy_biobert.layers.onnx_runtime). Training always runs PyTorch.
    """
    from spacy_transformers.layers import TransformerModel

    from .layers.length_buckets import set_length_buckets
    from .layers.onnx_runtime import set_runtime

    model = TransformerModel(
        name, get_spans, dict(tokenizer_config), dict(transformer_config),
        mixed_precision, dict(grad_scaler_config),
    )
    set_length_buckets(model, batch_overhead=batch_overhead, max_batch_items=max_batch_items)
    return set_runtime(model, runtime)


@registry.architectures("spacy-biobert.PairClassifier.v1")
def build_pair_classifier_v1(
    name: str,
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any] = SimpleFrozenDict(),
    nO: Optional[int] = None,
    dropout: float = 0.1,
    init_std: float = 0.02,
    max_length: int = 512,
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = SimpleFrozenDict(),
) -> Model[List[str], Floats2d]:
    """The paper's RE head: a sentence (the pair's mentions replaced by tags)
    is encoded by its own transformer, and one output layer with a softmax
    over the relation labels reads the [CLS] vector.

    The classifier owns its encoder: every pair has its own rewritten
    sentence, so the doc-level spacy-transformers `transformer` component
    (one pass per doc) cannot feed it. The weights, model config and tokenizer
    are serialized with this model.

    name (str): base model (hub name or folder), e.g. from
        spacy-biobert.base_model.v1; loaded at initialization only.
    tokenizer_config (Dict[str, Any]): e.g. from spacy-biobert.tokenizer_config.v1.
    transformer_config (Dict[str, Any]): kwargs of AutoConfig.from_pretrained.
    nO (Optional[int]): number of classes; set by the component from its labels.
    dropout (float): dropout on the [CLS] vector.
    init_std (float): std of the output weights (BERT's initializer_range).
    max_length (int): most wordpieces per text, [CLS] and [SEP] included.
    RETURNS (Model[List[str], Floats2d]): class probabilities per text.
    """
    from .layers.pair_encoder import PairEncoder

    encoder = PairEncoder(
        name, tokenizer_config, transformer_config, max_length=max_length,
        mixed_precision=mixed_precision, grad_scaler_config=dict(grad_scaler_config),
    )
    init_W = _normal_init(init_std) if init_std > 0 else zero_init
    output_layer = Softmax_v2(nO=nO, normalize_outputs=True, init_W=init_W)
    model: Model[List[str], Floats2d] = Model(
        "biobert_pair_classifier",
        _pair_forward,
        init=_pair_init,
        layers=[encoder, Dropout(dropout), output_layer],
        refs={"encoder": encoder, "output_layer": output_layer},
        dims={"nO": nO},
    )
    return model


def _pair_init(model: Model, X: Optional[List[str]] = None, Y: Optional[Floats2d] = None) -> None:
    encoder, dropout, output_layer = model.layers
    encoder.initialize()
    if model.has_dim("nO") and model.get_dim("nO"):
        output_layer.set_dim("nO", model.get_dim("nO"))
    output_layer.set_dim("nI", encoder.get_dim("nO"))
    output_layer.initialize()


def _pair_forward(model: Model, texts: List[str], is_train: bool) -> Tuple[Floats2d, Callable]:
    encoder, dropout, output_layer = model.layers
    if not texts:
        return model.ops.alloc2f(0, output_layer.get_dim("nO")), lambda d: []
    cls, bp_encoder = encoder(texts, is_train)
    dropped, bp_dropout = dropout(cls, is_train)
    probs, bp_output = output_layer(dropped, is_train)

    def backprop(d_probs: Floats2d) -> List[str]:
        return bp_encoder(bp_dropout(bp_output(d_probs)))

    return probs, backprop


@registry.architectures("spacy-biobert.SpanExtractor.v1")
def build_span_extractor_v1(
    name: str,
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any] = SimpleFrozenDict(),
    dropout: float = 0.1,
    init_std: float = 0.02,
    max_length: int = 384,
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = SimpleFrozenDict(),
) -> Model[Dict[str, Any], Floats3d]:
    """The paper's QA head (BERT's SQuAD architecture): the question and a
    window of the passage go through the encoder as a text pair, and one
    linear output layer turns every wordpiece vector into a start and an end
    logit.

    The extractor owns its encoder (the input is a question-passage pair, so
    the doc-level `transformer` component cannot feed it); weights, model
    config and tokenizer are serialized with this model.

    name (str): base model (hub name or folder), e.g. from
        spacy-biobert.base_model.v1; loaded at initialization only.
    tokenizer_config (Dict[str, Any]): e.g. from spacy-biobert.tokenizer_config.v1.
    transformer_config (Dict[str, Any]): kwargs of AutoConfig.from_pretrained.
    dropout (float): dropout on the wordpiece vectors.
    init_std (float): std of the output weights (BERT's initializer_range).
    max_length (int): wordpieces per window (question, passage part and the
        special tokens); BERT's SQuAD recipe uses 384.
    RETURNS (Model[Dict[str, Any], Floats3d]): (n_windows, length, 2) logits,
        [..., 0] start and [..., 1] end, for encoded windows (input_ids,
        attention_mask, token_type_ids).
    """
    from .layers.span_encoder import WordpieceEncoder

    encoder = WordpieceEncoder(
        name, tokenizer_config, transformer_config, max_length=max_length,
        mixed_precision=mixed_precision, grad_scaler_config=dict(grad_scaler_config),
    )
    init_W = _normal_init(init_std) if init_std > 0 else zero_init
    output_layer = Linear(nO=2, init_W=init_W)
    model: Model[Dict[str, Any], Floats3d] = Model(
        "biobert_span_extractor",
        _span_forward,
        init=_span_init,
        layers=[encoder, Dropout(dropout), output_layer],
        refs={"encoder": encoder, "output_layer": output_layer},
        dims={"nO": 2},
    )
    return model


def _span_init(model: Model, X: Optional[Any] = None, Y: Optional[Any] = None) -> None:
    encoder, dropout, output_layer = model.layers
    encoder.initialize()
    output_layer.set_dim("nI", encoder.get_dim("nO"))
    output_layer.initialize()


def _span_forward(model: Model, batch: Dict[str, Any], is_train: bool) -> Tuple[Floats3d, Callable]:
    encoder, dropout, output_layer = model.layers
    hidden, bp_encoder = encoder(batch, is_train)
    n, length, width = hidden.shape
    flat = model.ops.reshape2f(hidden, n * length, width)
    dropped, bp_dropout = dropout(flat, is_train)
    logits, bp_output = output_layer(dropped, is_train)

    def backprop(d_logits: Floats3d) -> Dict[str, Any]:
        d_flat = bp_dropout(bp_output(model.ops.reshape2f(d_logits, n * length, 2)))
        return bp_encoder(model.ops.reshape3f(d_flat, n, length, width))

    return model.ops.reshape3f(logits, n, length, 2), backprop
