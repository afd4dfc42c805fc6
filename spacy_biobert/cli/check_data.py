"""`spacy-biobert check-data`: fail early, in one line, when data files a
workflow needs are not set, missing or empty (the own-data workflow's first
step)."""

from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ..errors import Errors


def check_data_command(
    files: List[str] = typer.Option([], "--file", "-f", help="NAME=PATH (repeatable): a file or folder the next steps need; NAME is the variable that sets it"),
    hint: str = typer.Option("", "--hint", help="How to set them (shown with the error)"),
) -> None:
    """Check that every NAME=PATH is set and is a non-empty file or folder;
    exit 1 with one line naming what to set otherwise."""
    unset: List[str] = []
    bad: List[str] = []
    for item in files:
        name, _, value = item.partition("=")
        value = value.strip()
        if not value:
            unset.append(name)
            continue
        path = Path(value)
        if not path.exists():
            bad.append(f"{name}={value} (not found)")
        elif path.is_file() and path.stat().st_size == 0:
            bad.append(f"{name}={value} (empty file)")
        elif path.is_dir() and not any(path.iterdir()):
            bad.append(f"{name}={value} (empty folder)")
    if unset or bad:
        what = []
        if unset:
            what.append(f"not set: {', '.join(unset)}")
        if bad:
            what.append(", ".join(bad))
        msg.fail(Errors.E2708.format(what="; ".join(what), hint=f" {hint}" if hint else ""), exits=1)
    msg.good(f"Data files found: {', '.join(f.partition('=')[2] for f in files)}")
