"""IOB TSV -> .spacy (DocBin), for spaCy's own tools (`spacy evaluate`, `debug data`)."""

from pathlib import Path

import spacy
import typer
from spacy.tokens import DocBin
from wasabi import msg

from ..ner.readers import read_iob_docs


def convert_command(
    input_path: Path = typer.Argument(..., help="IOB TSV file", exists=True, dir_okay=False),
    output_path: Path = typer.Argument(..., help="Output .spacy file"),
    group_documents: bool = typer.Option(False, "--group-documents", help="One Doc per -DOCSTART- document"),
    untyped: bool = typer.Option(False, "--untyped", help="The paper's untyped B/I/O tags"),
    lang: str = typer.Option("en", "--lang"),
) -> None:
    """Convert an IOB TSV file of the BioBERT NER format into a DocBin."""
    nlp = spacy.blank(lang)
    db = DocBin(store_user_data=True)
    n_ents = 0
    for doc in read_iob_docs(input_path, nlp.vocab, group_documents=group_documents, untyped=untyped):
        db.add(doc)
        n_ents += len(doc.ents)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output_path)
    msg.good(f"Wrote {len(db)} docs with {n_ents} entities to {output_path}")
