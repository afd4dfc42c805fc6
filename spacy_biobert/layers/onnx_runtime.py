"""Prediction on ONNX Runtime: the transformer's encoder exported once, fp32 or int8.

``runtime`` is a setting of the ``spacy-biobert.TransformerModel.v1``
architecture (``[components.transformer.model] runtime``; override it at load:
``spacy.load(path, config={"components": {"transformer": {"model":
{"runtime": "onnx-int8"}}}})``) or switched on a loaded pipeline with
``use_runtime(nlp, runtime)``:

- ``"torch"`` (default): PyTorch eager, as before;
- ``"onnx-fp32"``: the encoder exported to ONNX and run by ONNX Runtime (same
  hidden states up to float rounding);
- ``"onnx-int8"``: that export with its ``MatMul`` weights quantised to int8
  (dynamic quantisation: activations are quantised per batch, so no
  calibration data is needed), see ``INT8_SETTINGS``.

The ONNX runtimes run on the CPU (CPUExecutionProvider) with torch's thread
count; their outputs go back to the transformer's device.

Only prediction changes: the length-bucketed forward
(``layers.length_buckets``) runs each group of windows through the session
instead of the PyTorch module, with the same windows and buckets. Training
(``is_train=True``) runs PyTorch as before, and marks the session stale: the
next prediction after an update re-exports (the weights changed).

The export happens on first use and is cached in ``cache_dir`` (default: the
environment variable ``SPACY_BIOBERT_ONNX_CACHE``, else
``$XDG_CACHE_HOME/spacy-biobert/onnx``, else ``~/.cache/spacy-biobert/onnx``)
under a name keyed by the sha256 of the weights (state dict bytes), the model
config, the input names and the runtime: a pipeline loaded again reuses it, a
retrained one gets its own file. Files are written under a temporary name and
renamed, so a reader never sees half a file.
"""

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from thinc.api import Model

from ..errors import Errors, Warnings
from .hf import runtime_state, set_runtime_state, torch_module  # noqa: F401

RUNTIMES = ("torch", "onnx-fp32", "onnx-int8")

# Bump when the export or the quantisation changes: old cache files are not reused.
EXPORT_VERSION = 1

OPSET = 17

# onnxruntime.quantization.quantize_dynamic settings of "onnx-int8". Only the
# MatMuls with a constant weight (the Linear layers) are quantised, per output
# channel, signed int8 weights; attention's activation x activation MatMuls
# stay fp32 (see README "Inference throughput" for the F1 of the choices).
INT8_SETTINGS: Dict[str, Any] = {
    "per_channel": True,
    "reduce_range": False,
    "op_types_to_quantize": ["MatMul"],
    "extra_options": {"MatMulConstBOnly": True},
}


class RuntimeState:
    """What a transformer model predicts with: the runtime's name, the cache
    folder, and (once used) the session and the weights it was made from."""

    def __init__(self, runtime: str, cache_dir: Optional[str] = None) -> None:
        self.runtime = runtime
        self.cache_dir = cache_dir
        self.encoder: Optional["OnnxEncoder"] = None
        self.stale = True
        self.signature: Optional[Tuple[Any, ...]] = None

    def __getstate__(self) -> Dict[str, Any]:
        # a copied or pickled pipeline (processes) opens its own session
        return {"runtime": self.runtime, "cache_dir": self.cache_dir}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["runtime"], state["cache_dir"])  # type: ignore[misc]


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(Errors.E2130.format(runtime=runtime, runtimes=", ".join(RUNTIMES)))
    return runtime


def set_runtime(trf_model: Model, runtime: str = "torch", cache_dir: Optional[str] = None) -> Model:
    """Make a spacy-transformers TransformerModel predict on `runtime` (see the
    module docstring); its forward must be the length-bucketed one
    (``set_length_buckets``). Checks onnxruntime is importable up front."""
    check_runtime(runtime)
    if runtime != "torch":
        _import_ort()
    set_runtime_state(trf_model, RuntimeState(runtime, cache_dir))
    return trf_model


def get_runtime(trf_model: Model) -> str:
    """RETURNS (str): the runtime `trf_model` predicts on."""
    state = runtime_state(trf_model)
    return state.runtime if state is not None else "torch"


def use_runtime(nlp: Any, runtime: str, *, cache_dir: Optional[str] = None) -> List[str]:
    """Switch every spacy-transformers ``transformer`` component of a loaded
    pipeline to `runtime` (and to length-bucketed prediction, which runs it).
    RETURNS (List[str]): the names of the components switched."""
    from spacy_transformers import Transformer

    from .length_buckets import set_length_buckets

    check_runtime(runtime)
    names = []
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, Transformer):
            set_length_buckets(pipe.model)
            set_runtime(pipe.model, runtime, cache_dir)
            names.append(name)
    return names


def mark_trained(wrapper: Model) -> None:
    """Called on a training forward: the weights are about to change."""
    state = runtime_state(wrapper)
    if state is not None:
        state.stale = True


def runtime_encoder(wrapper: Model, kwargs: Dict[str, Any]) -> Optional["OnnxEncoder"]:
    """The session to predict with, exported or loaded from the cache if the
    weights changed since the last call; None for the torch runtime.

    kwargs: the encoder's inputs of this call (their names are part of the key).
    """
    state = runtime_state(wrapper)
    if state is None or state.runtime == "torch":
        return None
    module = torch_module(wrapper)
    signature = _signature(module)
    if state.encoder is None or state.stale or signature != state.signature:
        state.encoder = load_or_export(module, sorted(kwargs), state.runtime, state.cache_dir)
        state.signature = signature
        state.stale = False
    return state.encoder


class OnnxEncoder:
    """An ONNX Runtime session that is called like the Hugging Face encoder:
    keyword tensors in, the encoder's output class (same keys) out."""

    def __init__(self, path: Path, output_cls: Any, output_names: List[str]) -> None:
        ort = _import_ort()
        import torch

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_cls = output_cls
        self.output_names = output_names

    def __call__(self, **kwargs: Any) -> Any:
        import numpy
        import torch

        device = kwargs[self.input_names[0]].device
        feed = {name: numpy.ascontiguousarray(kwargs[name].detach().cpu().numpy(), dtype="int64")
                for name in self.input_names}
        outputs = self.session.run(self.output_names, feed)
        return self.output_cls(**{k: torch.from_numpy(v).to(device) for k, v in zip(self.output_names, outputs)})


def default_cache_dir() -> Path:
    env = os.environ.get("SPACY_BIOBERT_ONNX_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spacy-biobert" / "onnx"


def weights_key(module: Any, input_names: List[str], runtime: str) -> str:
    """sha256 of the weights (names, dtypes, shapes, bytes), the model config,
    the input names, the runtime and EXPORT_VERSION."""
    import torch

    h = hashlib.sha256()
    h.update(f"v{EXPORT_VERSION}|{runtime}|{','.join(input_names)}|".encode())
    if runtime == "onnx-int8":
        h.update(repr(sorted(INT8_SETTINGS.items())).encode())
    config = getattr(module, "config", None)
    if config is not None and hasattr(config, "to_json_string"):
        h.update(config.to_json_string().encode())
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def load_or_export(module: Any, input_names: List[str], runtime: str,
                   cache_dir: Optional[str] = None) -> OnnxEncoder:
    """The session of `module` on `runtime`, from the cache or exported now."""
    check_runtime(runtime)
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    output_cls, output_names = _probe(module, input_names)
    key = weights_key(module, input_names, runtime)
    path = folder / f"{key[:32]}-{runtime}.onnx"
    if path.exists():
        try:
            return OnnxEncoder(path, output_cls, output_names)
        except Exception as err:  # a damaged file (ORT raises its own kinds): export again
            warnings.warn(Warnings.W2130.format(path=path, err=str(err)[:200]), stacklevel=2)
            path.unlink(missing_ok=True)
    if not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OSError(Errors.E2132.format(path=folder, err=err)) from err
        with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
            fp32 = Path(tmp) / "fp32.onnx"
            export_onnx(module, fp32, input_names, output_names)
            final = fp32
            if runtime == "onnx-int8":
                final = Path(tmp) / "int8.onnx"
                quantize_int8(fp32, final)
            os.replace(final, path)
    return OnnxEncoder(path, output_cls, output_names)


def export_onnx(module: Any, path: Path, input_names: List[str], output_names: List[str]) -> None:
    """torch.onnx.export (TorchScript exporter) with dynamic batch and length axes."""
    import torch

    wrapper = _Outputs(module, input_names, output_names)
    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in input_names)
    dynamic = {name: {0: "batch", 1: "length"} for name in input_names}
    for name in output_names:
        dynamic[name] = {0: "batch", 1: "length"} if name != "pooler_output" else {0: "batch"}
    was_training = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings on HF's shape checks
            torch.onnx.export(
                wrapper, example, str(path), dynamo=False, input_names=list(input_names),
                output_names=list(output_names), dynamic_axes=dynamic, opset_version=OPSET,
                do_constant_folding=True,
            )
    except Exception as err:  # the exporters raise many kinds
        raise RuntimeError(Errors.E2133.format(model=type(module).__name__, err=err)) from err
    finally:
        module.train(was_training)


def quantize_int8(src: Path, dst: Path, settings: Optional[Dict[str, Any]] = None) -> None:
    """Dynamic int8 quantisation of `src` into `dst`.

    settings: quantize_dynamic's keyword arguments (default INT8_SETTINGS),
        plus "exclude": regular expressions; MatMul nodes whose name matches
        one stay fp32 (e.g. "layer\\.0/", "output/dense").
    """
    _import_ort()
    import re

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = dict(INT8_SETTINGS if settings is None else settings)
    patterns = [re.compile(p) for p in settings.pop("exclude", [])]
    if patterns:
        nodes = onnx.load(str(src), load_external_data=False).graph.node
        settings["nodes_to_exclude"] = [
            n.name for n in nodes if n.op_type == "MatMul" and any(p.search(n.name) for p in patterns)]
    logging.disable(logging.WARNING)  # "consider pre-processing": a hint, on the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, **settings)
    finally:
        logging.disable(logging.NOTSET)


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(Errors.E2131.format(err=err)) from err
    return onnxruntime


def _signature(module: Any) -> Tuple[Any, ...]:
    """Cheap fingerprint of the weights' storage: changes when a parameter is
    replaced or modified in place through torch (load_state_dict, optimisers)."""
    return tuple((p.data_ptr(), p._version) for p in module.parameters())


def _probe(module: Any, input_names: List[str]) -> Tuple[Any, List[str]]:
    """The encoder's output class and its tensor outputs' names, from one tiny call."""
    import torch

    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            out = module(**{name: torch.ones((1, 2), dtype=torch.long) for name in input_names})
    finally:
        module.train(was_training)
    names = [k for k, v in out.items() if isinstance(v, torch.Tensor)]
    return type(out), names


def _outputs_module() -> Any:
    import torch

    class Outputs(torch.nn.Module):
        def __init__(self, module: Any, input_names: List[str], output_names: List[str]) -> None:
            super().__init__()
            self.module = module
            self.input_names = list(input_names)
            self.output_names = list(output_names)

        def forward(self, *inputs: Any) -> Tuple[Any, ...]:
            out = self.module(**dict(zip(self.input_names, inputs)))
            return tuple(out[k] for k in self.output_names)

    return Outputs


def _Outputs(module: Any, input_names: List[str], output_names: List[str]) -> Any:
    return _outputs_module()(module, input_names, output_names)
