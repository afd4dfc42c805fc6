"""`spacy-biobert visualize`: one HTML page with a pipeline's entities, relations and answers."""

import warnings
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..errors import Errors, Warnings
from ..extensions import QUESTIONS_ATTR
from .load import load_pipeline


def visualize_command(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    source: str = typer.Argument(..., help="A text, or a file: .txt (blank-line separated documents), .jsonl or PubMed .xml"),
    output: Path = typer.Option(..., "--output", "-o", help="The HTML page to write", dir_okay=False),
    questions: Optional[List[str]] = typer.Option(None, "--question", "-q", help="A question for a QA component (repeatable); set as doc._.questions"),
    fmt: str = typer.Option("auto", "--format", "-f", help="Input format when SOURCE is a file (as for annotate; .txt is read as blank-line separated blocks)"),
    limit: int = typer.Option(20, "--limit", help="At most this many documents from a file"),
    title: str = typer.Option("spacy-biobert", "--title", help="Page title"),
) -> None:
    """Render the pipeline's predictions on a text (or the first documents of a
    file) as one HTML page: entities, relation arcs and QA answers."""

    from ..apps.visualize import render_page

    texts = _read_texts(source, fmt, limit)
    if not texts:
        raise typer.BadParameter(Errors.E2701.format(what=f"no text in {source!r}"))
    nlp = load_pipeline(model)
    from ..qa.component import QuestionAnswerer

    if questions and not any(isinstance(p, QuestionAnswerer) for _, p in nlp.pipeline):
        warnings.warn(Warnings.W2601.format(pipes=nlp.pipe_names), stacklevel=2)
    from ..apps.annotate import ANSWERS_ATTR, _ext_name
    from ..extensions import RELATIONS_ATTR

    # the attribute names the pipeline's components were configured with
    questions_attr = _ext_name(nlp, "questions_attr", QUESTIONS_ATTR)
    docs = []
    for text in texts:
        doc = nlp.make_doc(text)
        if questions and doc.has_extension(questions_attr):
            doc._.set(questions_attr, list(questions))
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        docs.append(doc)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_page(
        docs, title=title, relations_attr=_ext_name(nlp, "relations_attr", RELATIONS_ATTR),
        answers_attr=_ext_name(nlp, "answers_attr", ANSWERS_ATTR),
    ), encoding="utf8")
    msg.good(f"Wrote {output} ({len(docs)} documents)")


def _read_texts(source: str, fmt: str, limit: int) -> List[str]:
    from ..apps.annotate import detect_format, read_documents

    path = Path(source)
    if len(source) > 4096 or "\n" in source or not path.is_file():
        return [source]
    if fmt == "auto" and detect_format(path) == "lines":
        fmt = "text"
    texts = []
    for _, text, _ in read_documents(path, detect_format(path, fmt), lambda m: msg.warn(m)):
        texts.append(text)
        if len(texts) >= limit:
            break
    return texts
