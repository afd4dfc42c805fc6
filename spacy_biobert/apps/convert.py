"""Any NER corpus format -> a .spacy DocBin (`spacy-biobert convert`)."""

from pathlib import Path
from typing import Tuple

import spacy
from spacy.tokens import DocBin

from ..ner.corpus import read_ner_docs
from ..ner.offsets import ReaderSummary
from ..ner.tags import UNTYPED_LABEL


def convert_corpus(
    input_path: Path, output_path: Path, *, fmt: str = "auto", group_documents: bool = False,
    untyped: bool = False, untyped_label: str = UNTYPED_LABEL, lang: str = "en",
) -> Tuple[int, int, ReaderSummary]:
    """Read ``input_path`` in format ``fmt`` (tokenised by ``spacy.blank(lang)``
    for offset formats) and write its gold Docs (doc.ents and the span group
    "entities_all") to ``output_path``. Nothing is written when reading fails.

    RETURNS (Tuple[int, int, ReaderSummary]): docs, entities in doc.ents, and
        the reader's summary.
    """
    nlp = spacy.blank(lang)
    summary = ReaderSummary()
    db = DocBin(store_user_data=True)
    n_ents = 0
    for doc in read_ner_docs(
        input_path, nlp, fmt=fmt, group_documents=group_documents, untyped=untyped,
        untyped_label=untyped_label, summary=summary,
    ):
        db.add(doc)
        n_ents += len(doc.ents)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output_path)
    return len(db), n_ents, summary
