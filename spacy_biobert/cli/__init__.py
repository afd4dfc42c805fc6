"""The `spacy-biobert` command line (also `python -m spacy_biobert`)."""

import typer

from ..about import __version__
from .annotate import annotate_command, annotate_ray_command
from .assets import assets_command
from .check_data import check_data_command
from .compare import compare_command
from .convert import convert_command
from .derive import derive_command
from .evaluate import evaluate_command
from .evaluate_qa import evaluate_qa_command, qa_stats_command
from .evaluate_re import evaluate_re_command, re_cv_command
from .package_meta import package_meta_command
from .pretrain import pretrain_command
from .task_text import task_text_command
from .visualize import visualize_command

app = typer.Typer(
    name="spacy-biobert",
    help="BioBERT for spaCy: fetch data, convert, evaluate with the paper's metrics.",
    no_args_is_help=True,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"spacy-biobert {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit"
    ),
) -> None:
    """BioBERT for spaCy: fetch data, convert, evaluate with the paper's metrics."""


app.command("assets")(assets_command)
app.command("check-data")(check_data_command)
app.command("compare")(compare_command)
app.command("convert")(convert_command)
app.command("derive")(derive_command)
app.command("evaluate")(evaluate_command)
app.command("evaluate-re")(evaluate_re_command)
app.command("re-cv")(re_cv_command)
app.command("evaluate-qa")(evaluate_qa_command)
app.command("qa-stats")(qa_stats_command)
app.command("pretrain")(pretrain_command)
app.command("task-text")(task_text_command)
app.command("package-meta")(package_meta_command)
app.command("annotate")(annotate_command)
app.command("annotate-ray")(annotate_ray_command)
app.command("visualize")(visualize_command)

__all__ = ["app"]
