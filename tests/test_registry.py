"""Everything spaCy must find is registered through entry points."""

import importlib
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import pytest
from spacy.util import registry

ROOT = Path(__file__).parent.parent

# entry-point group in pyproject.toml -> the catalogue registry spaCy reads it into
GROUPS = {
    "spacy_factories": lambda: registry.factories,
    "spacy_architectures": lambda: registry.architectures,
    "spacy_readers": lambda: registry.readers,
    "spacy_scorers": lambda: registry.scorers,
    "spacy_batchers": lambda: registry.batchers,
    "spacy_misc": lambda: registry.misc,
    "spacy_callbacks": lambda: registry.callbacks,
    "thinc_schedules": lambda: registry.schedules,
    "spacy_span_getters": lambda: _trf_registry().span_getters,
}


def _trf_registry():
    from spacy_transformers.util import registry as trf_registry

    return trf_registry


def _declared():
    """(group, name, 'module:attr') for every entry point pyproject.toml declares."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf8"))
    groups = pyproject["project"]["entry-points"]
    return [(g, n, target) for g, names in groups.items() for n, target in names.items()]


DECLARED = _declared()


def _load(target):
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def test_registry_every_group_is_known():
    assert {g for g, _, _ in DECLARED} == set(GROUPS)


@pytest.mark.parametrize("group,name,target", DECLARED, ids=[n for _, n, _ in DECLARED])
def test_registry_get_all_is_the_declared_function(group, name, target):
    """What the registry holds under the name (``get_all()``, which a checkout that
    is not installed also sees) is the very function pyproject.toml declares.
    A decorator on another function, or a name registered twice, fails here."""
    func = _load(target)
    reg = GROUPS[group]()
    assert reg.get_all()[name] is func
    assert reg.get(name) is func


@pytest.mark.parametrize("group,name,target", DECLARED, ids=[n for _, n, _ in DECLARED])
def test_registry_installed_entry_point_matches_pyproject(group, name, target):
    eps = {ep.name: ep for ep in entry_points(group=group)}
    assert name in eps, f"{name} is not installed under {group}: reinstall the package"
    assert eps[name].value == target, "the installed entry points are stale: reinstall"


def test_registry_nothing_registered_without_an_entry_point():
    """Every spacy-biobert name in a registry is declared in pyproject.toml (so that
    spaCy finds it without an import)."""
    import spacy_biobert  # noqa: F401  (registers everything)

    declared = {(g, n) for g, n, _ in DECLARED}
    found = set()
    for group, get_reg in GROUPS.items():
        for name in get_reg().get_all():
            if name.startswith("spacy-biobert.") or name.startswith("biobert_"):
                found.add((group, name))
    assert found == declared


def test_registry_span_getter_entry_point():
    from spacy_transformers.util import registry as trf_registry

    assert trf_registry.span_getters.get("spacy-biobert.bounded_strided_spans.v1")


def test_registry_add_pipe_without_import():
    """A fresh interpreter finds the factory through the entry point alone."""
    code = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en')\n"
        "ner = nlp.add_pipe('biobert_ner', name='ner')\n"
        "print(type(ner).__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "spacy_biobert.ner.component"


def test_registry_package_requirements_list_spacy_biobert(tiny_bert):
    """`spacy package` adds spacy-biobert to a pipeline's requirements by itself."""
    from spacy.cli.package import get_third_party_dependencies
    from util import make_ner_nlp

    nlp = make_ner_nlp(tiny_bert)
    deps = get_third_party_dependencies(nlp.config)
    assert any(d.startswith("spacy-biobert") for d in deps), deps
    assert any(d.startswith("spacy-transformers") for d in deps), deps
