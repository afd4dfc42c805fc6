"""The module paths from before the package was laid out by task and layer.

``import spacy_biobert.re_data`` and ``from spacy_biobert.scorers import
relation_score`` keep working: an old module that moved whole is the new
module itself (same object, so monkeypatching either name is the same);
an old module that was split gives every name of its new modules.
New code imports the new paths (README, "Package layout").
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
from typing import Any, Dict, Sequence, Tuple

# old module (under spacy_biobert) -> its new modules, in lookup order
MOVED: Dict[str, Tuple[str, ...]] = {
    "util": ("base_model", "span_getters", "training.callbacks", "apps.results"),
    "readers": ("ner.tags", "ner.iob", "ner.readers"),
    "scorers": ("ner.scorer", "relations.scorer", "qa.scorer", "qa.bioasq"),
    "re_data": ("relations.marking", "relations.binary", "relations.chemprot", "relations.readers"),
    "qa_data": ("qa.squad",),
    "candidates": ("relations.candidates",),
    "pair_encoder": ("layers.pair_encoder",),
    "span_encoder": ("layers.span_encoder",),
    "length_buckets": ("layers.length_buckets",),
    "batchers": ("training.batchers",),
    "schedules": ("training.schedules",),
    "annotate": ("apps.annotate",),
    "ray_annotate": ("apps.ray_annotate",),
    "visualize": ("apps.visualize",),
    "pretrain": ("apps.pretrain",),
    "compare": ("apps.compare", "apps.runs"),
    "re_eval": ("apps.re_eval",),
    "pipeline.ner": ("ner.component",),
    "pipeline.relation_extractor": ("relations.component",),
    "pipeline.qa": ("qa.component", "qa.decoding", "qa.windows"),
}
PACKAGE = __name__.rsplit(".", 1)[0]


def _split_module(name: str, targets: Sequence[types.ModuleType]) -> types.ModuleType:
    module = types.ModuleType(name, f"Moved: {', '.join(t.__name__ for t in targets)}.")

    def __getattr__(attr: str) -> Any:
        for target in targets:
            if hasattr(target, attr):
                return getattr(target, attr)
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    def __dir__() -> Sequence[str]:
        return sorted({a for t in targets for a in dir(t)})

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    module.__dir__ = __dir__  # type: ignore[assignment]
    return module


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.startswith(PACKAGE + ".") and fullname[len(PACKAGE) + 1 :] in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        old = module.__name__[len(PACKAGE) + 1 :]
        targets = [importlib.import_module(f"{PACKAGE}.{new}") for new in MOVED[old]]
        # the import system returns what sys.modules holds after exec_module
        if len(targets) == 1:
            sys.modules[module.__name__] = targets[0]
        else:
            sys.modules[module.__name__] = _split_module(module.__name__, targets)


def install_moved_modules() -> None:
    """Make the old module paths importable (idempotent)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())
