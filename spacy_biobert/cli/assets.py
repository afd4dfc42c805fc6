"""Fetch the project's assets: from the offline mirror when it has them, else
from their public URL; verify every file's checksum either way."""

import hashlib
import shutil
import urllib.request
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..errors import Errors


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mirror_source(dest: str, mirror: Path) -> Path:
    """assets/ner/ncbi_disease/train.tsv -> <mirror>/ner/ncbi_disease/train.tsv"""
    rel = Path(dest)
    if rel.parts and rel.parts[0] == "assets":
        rel = Path(*rel.parts[1:])
    return mirror / rel


def _derive(name: str, out_dir: Path, project_dir: Path, offline: bool) -> str:
    """JNLPBA / S800: derived from their public sources (apps/derive.py)."""
    from ..apps.derive import derive_dataset

    sources = project_dir / "assets" / "sources" / name
    try:
        derive_dataset(name, out_dir, sources, offline=offline)
    except (ValueError, OSError) as e:
        msg.fail(str(e), exits=1)
    return f"derived from the public sources of {name} (kept in {sources})"


def ner_dataset_names(config: dict) -> List[str]:
    """The NER data sets of project.yml: <name> of each assets/ner/<name>/ dest."""
    names: List[str] = []
    for asset in config.get("assets", []):
        parts = Path(asset["dest"]).parts
        if len(parts) >= 4 and parts[:2] == ("assets", "ner") and parts[2] not in names:
            names.append(parts[2])
    return names


def fetch_assets(
    project_dir: Path, mirror: Optional[Path], only: List[str], *, offline: bool = False
) -> List[Path]:
    """Fetch the assets of project.yml whose dest contains one of `only` (all
    if empty). RETURNS (List[Path]): the files now in place."""
    from weasel.util import load_project_config

    config = load_project_config(project_dir)
    ner_names = ner_dataset_names(config)
    for key in only:  # a data-set name that is not one of the project's: say which are
        parts = key.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "ner" and parts[1] not in ner_names:
            msg.fail(Errors.E2707.format(name=parts[1], only=key, names=", ".join(ner_names)), exits=1)
    done: List[Path] = []
    for asset in config.get("assets", []):
        dest = asset["dest"]
        if only and not any(key in dest for key in only):
            continue
        target = project_dir / dest
        checksum = asset.get("checksum")
        if target.exists() and (not checksum or md5sum(target) == checksum):
            msg.good(f"Up to date: {dest}")
            done.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = _mirror_source(dest, mirror) if mirror else None
        if source is not None and source.exists():
            shutil.copyfile(source, target)
            how = f"copied from mirror {source}"
        elif asset.get("derive"):
            how = _derive(asset["derive"], target.parent, project_dir, offline)
        elif offline:
            msg.fail(f"Not in the mirror and --offline: {dest}", exits=1)
        else:
            url = asset.get("url")
            if not url:
                msg.fail(f"No URL and not in the mirror: {dest}", exits=1)
            tmp = target.with_suffix(target.suffix + ".part")
            msg.info(f"Downloading {url}")
            try:
                with urllib.request.urlopen(url, timeout=60) as r, tmp.open("wb") as f:
                    shutil.copyfileobj(r, f)
            except OSError as err:  # URLError, HTTPError, timeouts, refused connections
                tmp.unlink(missing_ok=True)
                reason = getattr(err, "reason", None) or err
                msg.fail(Errors.E2706.format(url=url, err=reason, dest=dest), exits=1)
            tmp.replace(target)
            how = f"downloaded from {url}"
        if checksum and md5sum(target) != checksum:
            bad = target.with_suffix(target.suffix + ".bad")
            target.replace(bad)
            msg.fail(
                f"Checksum mismatch for {dest} ({how}): expected {checksum}, "
                f"got {md5sum(bad)}. Kept the file as {bad}.",
                exits=1,
            )
        msg.good(f"{dest}: {how}")
        done.append(target)
    if not done:
        msg.fail(f"No asset matched {only} in {project_dir / 'project.yml'}", exits=1)
    return done


def assets_command(
    project_dir: Path = typer.Argument(Path("."), help="Folder with project.yml"),
    mirror: Optional[Path] = typer.Option(None, "--mirror", "-m", help="Offline mirror folder (e.g. ../shared/data); used when it has the file"),
    only: List[str] = typer.Option([], "--only", "-o", help="Fetch only assets whose dest contains this (repeatable)"),
    offline: bool = typer.Option(False, "--offline", help="Never download; fail if the mirror lacks a file"),
    datasets: str = typer.Option("", "--datasets", help="Comma-separated NER data sets: fetch their files (ner/<name>/)"),
) -> None:
    """Fetch the project's assets from the offline mirror, else their URL."""
    only = [o for item in only for o in item.split(",") if o]
    if datasets:
        only = [o for o in only if o != "ner/"] + [f"ner/{d.strip()}/" for d in datasets.split(",") if d.strip()]
    if mirror is not None and not mirror.exists():
        msg.warn(f"Mirror {mirror} not found: downloading from the public URLs.")
        mirror = None
    fetch_assets(project_dir, mirror, list(only), offline=offline)
