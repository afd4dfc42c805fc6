"""Derive JNLPBA's train split or Species-800's splits from their public sources."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..apps.derive import derive_dataset


def derive_command(
    name: str = typer.Argument(..., help="Data set: jnlpba or s800"),
    output_dir: Path = typer.Argument(..., help="Folder for the derived files (e.g. assets/ner/s800)"),
    sources: Optional[Path] = typer.Option(None, "--sources", "-s", help="Folder of the sources (downloaded into it when missing); default assets/sources/NAME"),
    offline: bool = typer.Option(False, "--offline", help="Never download; fail if a source is missing"),
) -> None:
    """Derive a data set's files from the public sources named in the mirror's
    SOURCE.txt, checking the sources' and the results' md5."""
    sources = sources if sources is not None else Path("assets") / "sources" / name
    try:
        written = derive_dataset(name, output_dir, sources, offline=offline)
    except (ValueError, OSError) as e:
        msg.fail(str(e), exits=1)
    for path in written:
        msg.good(f"{path}: derived from {sources}, md5 verified")
