"""Training callbacks: check the base model before any weights load."""

from typing import Any, Callable

from spacy.util import registry

from ..base_model import check_base_model


@registry.callbacks("spacy-biobert.check_base_model.v1")
def create_check_base_model() -> Callable[[Any], Any]:
    """[initialize.before_init] callback: before any weights are loaded, check
    that every transformer's base model exists (local folder or hub), and fail
    with a clear message if not.
    """

    def check(nlp: Any) -> Any:
        for _, pipe in nlp.pipeline:
            model = getattr(pipe, "model", None)
            name = model.attrs.get("name") if model is not None else None
            if isinstance(name, str) and not model.attrs.get("has_transformer", False):
                check_base_model(name)
        return nlp

    return check
