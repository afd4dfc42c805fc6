"""Loading pipeline folders safely (README, "Loading pipelines safely").

Every pipeline with a spacy-biobert component gets two guards on its ``nlp``
object, installed by the component factories (so ``spacy.load``, ``spacy
train`` and the configs need nothing extra):

Saving (``nlp.to_disk``) writes ``checksums.sha256`` into the folder: the
sha256 of every file of it except the ones users edit by hand (config.cfg,
meta.json, README.md), in the format of ``sha256sum`` (``sha256sum -c
checksums.sha256`` in the folder checks it too).

Loading (``nlp.from_disk``, which ``spacy.load`` calls) then, before any
component reads its files:

1. checks the manifest when there is one: a file that is missing or whose
   sha256 differs is named, with its component, in a ValueError
   (``DamagedPipelineError``, E2040). This is what finds silent damage: a
   block of zeros inside the weights loads without any error otherwise.
2. reads each component's ``model`` file: it must decode (a truncated file
   fails here, named); each PyTorch state in it (spacy-transformers'
   ``transformer``, thinc PyTorch layers) must pass the CRC32 of its zip
   records (damage inside the tensor data, also in pipelines saved before
   the manifest existed) and load with ``torch.load(weights_only=True)``: a
   state that carries a pickled object to run instead of tensors is refused
   (``UnsafePipelineError``, E2041) before spacy-transformers' own
   ``torch.load`` could run it (whatever TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD says).
3. loads the components; an error while one reads its files names the file
   and the component (E2040).

Pipelines saved before the manifest existed have none: steps 2 and 3 still
apply. Both guards are plain attributes of the ``nlp`` object, not a change
to spaCy's ``Language`` class.
"""

import hashlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import srsly

from .errors import Errors

MANIFEST = "checksums.sha256"
# top-level files users edit by hand, never in the manifest
UNCHECKED = frozenset({"config.cfg", "meta.json", "README.md", MANIFEST})
# what a component raises when its files are damaged (msgpack, JSON, torch's
# zip reader, pickle): turned into an error that names the file
DAMAGE_ERRORS = (ValueError, RuntimeError, EOFError, KeyError, TypeError, IndexError,
                 pickle.UnpicklingError, zipfile.BadZipFile, OSError)
_CHUNK = 1 << 20


class DamagedPipelineError(ValueError):
    """A file of a pipeline folder is missing, unreadable or changed (E2040)."""


class UnsafePipelineError(ValueError):
    """A pipeline's weights carry a pickled object to run, not tensors (E2041)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def pipeline_files(path: Path) -> List[str]:
    """The files of a pipeline folder the manifest covers, as posix paths."""
    files = (p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    return sorted(f for f in files if f not in UNCHECKED)


def write_manifest(path: Union[str, Path]) -> Path:
    """Write checksums.sha256 (sha256sum format) for the pipeline folder `path`."""
    path = Path(path)
    lines = [f"{sha256_file(path / rel)}  {rel}\n" for rel in pipeline_files(path)]
    target = path / MANIFEST
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text("".join(lines), encoding="utf8")
    tmp.replace(target)
    return target


def read_manifest(path: Path) -> Optional[Dict[str, str]]:
    """file -> sha256 from the folder's manifest; None when it has none."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        return None
    out: Dict[str, str] = {}
    for i, line in enumerate(manifest.read_text(encoding="utf8", errors="replace").splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        outside = rel.startswith("/") or ".." in rel.split("/")  # only files of the folder
        if not sep or len(digest) != 64 or not rel or outside or any(c not in "0123456789abcdef" for c in digest):
            raise DamagedPipelineError(Errors.E2042.format(path=manifest, line=i, content=line[:80]))
        out[rel] = digest
    return out


def _owner(rel: str, names: Iterable[str]) -> str:
    top = rel.split("/")[0]
    return f"component '{top}'" if top in set(names) else f"the pipeline's {top}"


def _damaged(path: Path, rel: str, names: Iterable[str], problem: str) -> DamagedPipelineError:
    return DamagedPipelineError(
        Errors.E2040.format(path=path, file=rel, owner=_owner(rel, names), problem=problem)
    )


def verify_manifest(path: Path, names: Iterable[str], exclude: Iterable[str] = ()) -> int:
    """Check every file the manifest lists (except those of excluded
    components). RETURNS (int): the files checked (0: no manifest)."""
    manifest = read_manifest(path)
    if manifest is None:
        return 0
    names, skip = list(names), set(exclude)
    n = 0
    for rel, want in manifest.items():
        if rel.split("/")[0] in skip:
            continue
        file = path / rel
        if not file.is_file():
            raise _damaged(path, rel, names, f"is missing (it is listed in {MANIFEST})")
        if sha256_file(file) != want:
            raise _damaged(path, rel, names, f"is not the file that was saved (its sha256 differs from {MANIFEST})")
        n += 1
    return n


def _torch_states(msg: Any) -> Iterator[bytes]:
    """The PyTorch states in a decoded thinc model file: each shim's bytes
    (spacy-transformers' HFShim, thinc's PyTorchShim) are a msgpack map with
    the torch.save'd state under 'state'."""
    if not isinstance(msg, dict):
        return
    for node_shims in msg.get("shims") or []:
        for shim in node_shims if isinstance(node_shims, (list, tuple)) else []:
            shim_msg = srsly.msgpack_loads(shim)  # a damaged shim raises here, as in its load
            state = shim_msg.get("state") if isinstance(shim_msg, dict) else None
            if isinstance(state, bytes) and state:
                yield state


def check_torch_state(state: bytes) -> Optional[str]:
    """Check a torch.save'd state without running it. RETURNS the damage
    found (bad zip structure or a record failing its CRC32), or None. Raises
    pickle.UnpicklingError when it holds more than tensors and plain data."""
    import torch

    try:
        with zipfile.ZipFile(io.BytesIO(state)) as archive:
            for info in archive.infolist():
                if info.CRC == 0 and info.file_size:  # saved without CRC32 (torch option)
                    continue
                with archive.open(info) as record:  # zipfile checks the CRC32 at the end
                    while record.read(_CHUNK):
                        pass
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        return f"fails its zip/CRC32 check ({err})"
    try:
        torch.load(io.BytesIO(state), map_location="meta", weights_only=True)
    except pickle.UnpicklingError:
        raise
    except Exception as err:  # noqa: BLE001 - any other failure is damage
        return f"cannot be read by torch ({' '.join(str(err).split())[:200]})"
    return None


def check_model_file(path: Path, rel: str, names: Iterable[str]) -> None:
    """Decode a component's model file and check its PyTorch states."""
    try:
        states = list(_torch_states(srsly.msgpack_loads(path.joinpath(rel).read_bytes())))
    except DAMAGE_ERRORS as err:
        raise _damaged(path, rel, names, f"cannot be read ({err})") from err
    for state in states:
        try:
            problem = check_torch_state(state)
        except pickle.UnpicklingError as err:
            raise UnsafePipelineError(
                Errors.E2041.format(path=path, file=rel, owner=_owner(rel, names))
            ) from err
        if problem:
            raise _damaged(path, rel, names, problem)


def _unreadable_file(path: Path, name: str) -> str:
    """The first file of a component folder that does not decode (for an
    error message); the folder itself when all do."""
    folder = path / name
    for file in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            data = file.read_bytes() if file.is_file() else None
            if data is not None and file.name == "cfg":
                srsly.json_loads(data)
            elif data is not None:
                list(_torch_states(srsly.msgpack_loads(data)))
        except Exception:  # noqa: BLE001
            return f"{name}/{file.name}"
    return name


class _NamedLoad:
    """A component's from_disk for the time of one nlp.from_disk: an error
    while it reads its files names the file and the component."""

    def __init__(self, load: Any, pipeline: Path, name: str, names: List[str]) -> None:
        self.load, self.pipeline, self.name, self.names = load, pipeline, name, names

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.load(*args, **kwargs)
        except (DamagedPipelineError, UnsafePipelineError):
            raise
        except DAMAGE_ERRORS as err:
            rel = _unreadable_file(self.pipeline, self.name)
            problem = f"cannot be loaded ({type(err).__name__}: {' '.join(str(err).split())[:300]})"
            raise _damaged(self.pipeline, rel, self.names, problem) from err


def load_checked(nlp: Any, path: Union[str, Path], **kwargs: Any) -> Any:
    """nlp.from_disk(path, **kwargs) with the checks of the module docstring."""
    path = Path(path)
    exclude = set(kwargs.get("exclude") or ())
    names = list(nlp.component_names)
    verify_manifest(path, names, exclude)
    for name in names:
        if name not in exclude and (path / name / "model").is_file():
            check_model_file(path, f"{name}/model", names)
    wrapped = []
    for name, proc in nlp.components:
        if name in exclude or "from_disk" in getattr(proc, "__dict__", {}):
            continue
        try:
            proc.from_disk = _NamedLoad(proc.from_disk, path, name, names)
        except (AttributeError, TypeError):  # a Cython component: unnamed errors
            continue
        wrapped.append(proc)
    try:
        return type(nlp).from_disk(nlp, path, **kwargs)
    finally:
        for proc in wrapped:
            del proc.from_disk


class _GuardedFromDisk:
    def __init__(self, nlp: Any) -> None:
        self.nlp = nlp

    def __call__(self, path: Union[str, Path], **kwargs: Any) -> Any:
        return load_checked(self.nlp, path, **kwargs)


class _ManifestToDisk:
    def __init__(self, nlp: Any) -> None:
        self.nlp = nlp

    def __call__(self, path: Union[str, Path], **kwargs: Any) -> None:
        type(self.nlp).to_disk(self.nlp, path, **kwargs)
        write_manifest(path)


def guard_pipeline(nlp: Any) -> None:
    """Give `nlp` the checked from_disk and the manifest-writing to_disk
    (idempotent). Called by the spacy-biobert component factories."""
    if nlp is None or isinstance(getattr(nlp, "__dict__", {}).get("from_disk"), _GuardedFromDisk):
        return
    nlp.from_disk = _GuardedFromDisk(nlp)
    nlp.to_disk = _ManifestToDisk(nlp)
