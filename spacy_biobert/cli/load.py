"""Load a pipeline for a command, failing with one line (no traceback) when
the path or package name is wrong."""

from pathlib import Path
from typing import Any

from wasabi import msg

from ..errors import Errors


def load_pipeline(model: str) -> Any:
    """spacy.load(model), or exit 1 with one line that says how to fix the
    argument: not a folder nor a package, a folder without config.cfg (with
    the pipelines found under it), or a pipeline that fails to load."""
    import spacy

    path = Path(model)
    if not path.exists() and not spacy.util.is_package(model):
        msg.fail(Errors.E2703.format(model=model), exits=1)
    if path.is_dir() and not (path / "config.cfg").exists():
        found = sorted(str(p.parent) for p in path.glob("*/config.cfg"))
        hint = f": use one of {', '.join(found)}" if found else ""
        msg.fail(Errors.E2704.format(model=model, hint=hint), exits=1)
    try:
        return spacy.load(model)
    except (OSError, ValueError) as err:
        msg.fail(Errors.E2705.format(model=model, err=" ".join(str(err).split())), exits=1)
