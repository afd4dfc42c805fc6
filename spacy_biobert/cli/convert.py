"""Any NER corpus format -> .spacy (DocBin), for spaCy's own tools (`spacy
train` with spacy.Corpus.v1, `spacy evaluate`, `debug data`)."""

from pathlib import Path

import typer
from wasabi import msg

from ..apps.convert import convert_corpus

FORMAT_HELP = (
    "auto (from the suffix and content), iob, conll, pubtator, bioc-xml, bioc-json, "
    "brat (a folder of .txt + .ann) or spacy"
)


def convert_command(
    input_path: Path = typer.Argument(..., help="Corpus file (or BRAT folder)", exists=True),
    output_path: Path = typer.Argument(..., help="Output .spacy file"),
    format: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP),
    group_documents: bool = typer.Option(False, "--group-documents", help="Token formats: one Doc per -DOCSTART- document"),
    untyped: bool = typer.Option(False, "--untyped", help="The paper's untyped B/I/O tags"),
    lang: str = typer.Option("en", "--lang", help="Language whose tokenizer splits the raw text of offset formats"),
) -> None:
    """Convert an NER corpus (IOB/CoNLL, PubTator, BioC XML/JSON, BRAT) into a DocBin."""
    n_docs, n_ents, summary = convert_corpus(
        input_path, output_path, fmt=format, group_documents=group_documents,
        untyped=untyped, lang=lang,
    )
    msg.info(f"Read {summary}")
    msg.good(f"Wrote {n_docs} docs with {n_ents} entities to {output_path}")
