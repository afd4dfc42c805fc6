"""`spacy-biobert package-meta`: the meta JSON for `spacy package --meta-path`
(description, author, licences and sources of a packaged pipeline)."""

from pathlib import Path
from typing import Optional

import srsly
import typer
from wasabi import msg

from ..apps.package_meta import package_meta, package_name
from ..errors import Errors


def package_meta_command(
    model: Path = typer.Argument(..., help="Trained pipeline folder (the one with config.cfg)"),
    output: Path = typer.Argument(..., help="The meta JSON to write", dir_okay=False),
    name: str = typer.Option(..., "--name", help="Package name (spacy package adds the en_ prefix)"),
    dataset: str = typer.Option(..., "--dataset", help="The data set it was trained on (a project data set or your own name)"),
    version: Optional[str] = typer.Option(None, "--version", help="Package version"),
    description: str = typer.Option("", "--description", help="Description (default: pipeline, data set and base model)"),
    dataset_url: str = typer.Option("", "--dataset-url", help="URL of the data set (default: the project's for its data sets)"),
    dataset_license: str = typer.Option("", "--dataset-license", help="Licence of the data set (default: the project's for its data sets)"),
    mirror: Optional[Path] = typer.Option(None, "--mirror", help="Data mirror: the licence line of <mirror>/ner/<dataset>/SOURCE.txt"),
    default_dataset: str = typer.Option("", "--default-dataset", help="The project's default data set: its package is --name itself; any other data set's is --name + _<dataset>"),
    suffix: str = typer.Option("", "--suffix", help="Appended last (e.g. _ci)"),
) -> None:
    """Write the meta of a packaged pipeline: description, author, url,
    licence (base model's and data set's) and sources (base model and data set
    with URLs); pass it to `spacy package --meta-path`."""
    if not (model / "config.cfg").exists():
        msg.fail(Errors.E2704.format(model=str(model), hint=""), exits=1)
    if default_dataset:
        name = package_name(name, dataset, default_dataset, suffix)
    else:
        name += suffix
    meta = package_meta(
        model, name, dataset, version=version, description=description,
        dataset_url=dataset_url, dataset_license=dataset_license, mirror=mirror,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(output, meta)
    msg.good(f"Wrote the meta of {name} ({meta['license']}) to {output}")
