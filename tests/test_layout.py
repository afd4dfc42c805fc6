"""The package layout (README, "Package layout"): which package may import
which, module sizes, error-code ranges, the one door to spacy-transformers
internals, and the old module paths that must keep working."""

import ast
import importlib
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "spacy_biobert"
# lowest first; a module may import its own layer or a lower one
RANKS = {
    "errors": 0, "extensions": 0, "about": 0, "_fork": 0, "losses": 0,
    "base_model": 1, "span_getters": 1, "integrity": 1, "text_files": 1,
    "layers": 2,
    "architectures": 3, "encoder_pipe": 3,
    "ner": 4, "relations": 4, "qa": 4,
    "training": 5,
    "apps": 6,
    "cli": 7,
    "benchmarks": 8,
    # glue on top: the package itself, `python -m`, old paths, re-exports
    "__init__": 9, "__main__": 9, "_compat": 9, "pipeline": 9,
}
TASKS = {"ner", "relations", "qa"}
# data-set adapters: a task's component never imports them
ADAPTERS = {"readers", "iob", "binary", "chemprot", "squad"}
HF_INTERNALS = {"_hfmodel", "shims", "_func"}
MAX_LINES = 600


def modules() -> Iterator[Tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(parts), path


def top(module: str) -> str:
    return module.split(".")[0]


def imported(module: str, path: Path) -> List[Tuple[int, str]]:
    """(line, module under spacy_biobert) for every import in the file,
    including imports inside functions."""
    is_pkg = path.name == "__init__.py"
    here = module.split(".")[:-1] if is_pkg else module.split(".")
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = (here if is_pkg else here[:-1])
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("spacy_biobert"):
                target = node.module[len("spacy_biobert"):].lstrip(".")
            else:
                continue
            for alias in node.names:  # `from . import scorer` imports a module
                sub = f"{target}.{alias.name}" if target else alias.name
                is_mod = (PACKAGE / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE / sub.replace(".", "/")
                ).is_dir()
                out.append((node.lineno, sub if is_mod else target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("spacy_biobert."):
                    out.append((node.lineno, alias.name[len("spacy_biobert."):]))
    return [(line, t) for line, t in out if t]


def violation(module: str, target: str) -> Optional[str]:
    src, dst = top(module), top(target)
    if src not in RANKS or dst not in RANKS:
        return f"{src!r} or {dst!r} has no layer in RANKS (add it, and to the README)"
    if RANKS[dst] > RANKS[src]:
        return f"layer {src} ({RANKS[src]}) imports the higher layer {dst} ({RANKS[dst]})"
    if src in TASKS and dst in TASKS and src != dst:
        return f"task {src} imports task {dst}"
    if src in TASKS and module.split(".")[-1] == "component" and target.split(".")[-1] in ADAPTERS:
        return "a component imports a data-set adapter"
    if src == "benchmarks" and dst == "cli":
        return "benchmarks import cli"
    return None


def test_layout_every_module_has_a_layer():
    missing = sorted({top(m) for m, _ in modules()} - set(RANKS))
    assert not missing, f"modules without a layer: {missing}"


def test_layout_import_rule():
    bad = []
    for module, path in modules():
        for line, target in imported(module, path):
            why = violation(module, target)
            if why:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} -> {target}: {why}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "module,target,expected",
    [
        ("layers.pair_encoder", "ner.component", "higher layer"),
        ("relations.component", "relations.readers", "data-set adapter"),
        ("relations.scorer", "ner.tags", "task relations imports task ner"),
        ("benchmarks.throughput", "cli.evaluate", "benchmarks import cli"),
        ("training.schedules", "apps.results", "higher layer"),
    ],
)
def test_layout_rule_catches(module, target, expected):
    """The checker itself flags each kind of violation."""
    assert expected in (violation(module, target) or "")


def test_layout_rule_allows():
    assert violation("relations.component", "relations.marking") is None
    assert violation("apps.evaluate", "ner.iob") is None
    assert violation("qa.component", "layers.span_encoder") is None


def test_layout_no_module_over_max_lines():
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for _, p in modules()
        if (n := len(p.read_text(encoding="utf8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_layout_hf_internals_only_in_layers_hf():
    """spacy-transformers' and HF's private attributes are reached from one
    module, so a change there is mended in one place."""
    bad = []
    for module, path in modules():
        if module == "layers.hf":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if isinstance(node, ast.Attribute) and node.attr in HF_INTERNALS:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .{node.attr}")
    assert not bad, "\n".join(bad)


def _codes_used() -> Dict[str, List[Tuple[str, str]]]:
    used: Dict[str, List[Tuple[str, str]]] = {}
    pattern = re.compile(r"(?<!Spacy)\b(Errors|Warnings)\.([EW]\d+)\b")
    for module, path in modules():
        for m in pattern.finditer(path.read_text(encoding="utf8")):
            used.setdefault(top(module), []).append((m.group(2), module))
    return used


RANGES = {
    "base_model": 2000, "span_getters": 2000, "integrity": 2000, "text_files": 2000, "layers": 2100, "architectures": 2100,
    "ner": 2200, "relations": 2300, "qa": 2400, "training": 2500, "apps": 2600,
    "cli": 2700, "benchmarks": 2700,
}


def code_owner(code: str) -> Optional[str]:
    """The package whose range holds the code (base for 20xx)."""
    start = int(code[1:]) // 100 * 100
    owners = [p for p, s in RANGES.items() if s == start]
    return owners[0] if owners else None


def test_layout_error_codes_in_their_package_range():
    """A module raises codes of its own package's range, or of a lower
    package whose concept the error is about (e.g. `cli` passing on a
    warning of `apps`), never of a higher or a sibling task package."""
    bad = []
    for package, uses in _codes_used().items():
        for code, module in uses:
            owner = code_owner(code)
            if owner is None:
                bad.append(f"{module} raises {code}, in no package's range")
            elif RANGES.get(package) != RANGES[owner] and (
                RANKS[owner] >= RANKS[package] or (owner in TASKS and package in TASKS)
            ):
                bad.append(f"{module} raises {code} of {owner}'s range {RANGES[owner]}")
    assert not bad, "\n".join(bad)


def test_layout_error_codes_never_spacy_codes():
    import spacy.errors

    from spacy_biobert.errors import OLD_CODES, Errors, Warnings

    ours = [c for cls in (Errors, Warnings) for c in vars(cls) if re.fullmatch(r"[EW]\d+", c)]
    assert len(ours) == len(set(ours)) > 70
    theirs = {c for cls in (spacy.errors.Errors, spacy.errors.Warnings) for c in vars(cls)}
    assert all(re.fullmatch(r"[EW]2\d{3}", c) for c in ours), ours
    assert not set(ours) & theirs
    # every old code maps to a defined code with the same kind
    assert set(OLD_CODES.values()) <= set(ours)
    assert all(old[0] == new[0] for old, new in OLD_CODES.items())
    assert str(Errors.E2001).startswith("(spacy-biobert) [E2001] ")


def test_layout_old_module_paths_still_import():
    """Code written against the flat layout keeps working (_compat.MOVED)."""
    from spacy_biobert._compat import MOVED

    for old, news in MOVED.items():
        mod = importlib.import_module(f"spacy_biobert.{old}")
        for new in news:
            target = importlib.import_module(f"spacy_biobert.{new}")
            public = [n for n in vars(target) if not n.startswith("__")]
            assert public, new
            for name in public:
                if getattr(target, name) is not getattr(mod, name):
                    # a split module finds each name in the first new module
                    # that has it; a re-imported helper may come from another
                    first = next(
                        importlib.import_module(f"spacy_biobert.{n}")
                        for n in news
                        if hasattr(importlib.import_module(f"spacy_biobert.{n}"), name)
                    )
                    assert getattr(mod, name) is getattr(first, name), (old, name)
    # a whole move is the same module object, so patching either name is one patch
    import spacy_biobert.annotate as old_annotate

    import spacy_biobert.apps.annotate as new_annotate

    assert old_annotate is new_annotate
    # the paths the README named before the move
    from spacy_biobert.length_buckets import use_length_buckets
    from spacy_biobert.re_data import create_chemprot_corpus, mark_entities, mark_pair
    from spacy_biobert.scorers import (
        bioasq_factoid_scores,
        pool_bioasq_answers,
        relation_score,
    )

    from spacy_biobert.layers.length_buckets import use_length_buckets as new_ulb
    from spacy_biobert.relations.chemprot import mark_pair as new_mark_pair
    from spacy_biobert.relations.marking import mark_entities as new_mark

    assert use_length_buckets is new_ulb and mark_entities is new_mark and mark_pair is new_mark_pair
    assert create_chemprot_corpus.__module__ == "spacy_biobert.relations.readers"
    assert pool_bioasq_answers.__module__ == bioasq_factoid_scores.__module__ == "spacy_biobert.qa.bioasq"
    assert relation_score.__module__ == "spacy_biobert.relations.scorer"
    with pytest.raises(AttributeError):
        _ = importlib.import_module("spacy_biobert.scorers").no_such_name
