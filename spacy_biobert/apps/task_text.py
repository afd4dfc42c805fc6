"""A task's training texts as a pre-training corpus (task-adaptive
pre-training): the sentences or documents of NER training files (any format
the NER readers take) or of GAD / EU-ADR files, written as plain text, one
document per block, blank lines between documents (the format of
``spacy-biobert pretrain``). Labels are dropped; only text is kept.
"""

import os
import re
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Union

import spacy

from ..errors import Errors
from ..ner.corpus import OFFSET_FORMATS, detect_format, read_ner_docs
from ..relations.binary import read_binary_re

FORMATS = ("auto", "re-binary")
_BLANK_LINES = re.compile(r"\n\s*\n")


def _grouped(texts: Iterator[str], size: int) -> Iterator[str]:
    block: List[str] = []
    for text in texts:
        block.append(text)
        if len(block) == size:
            yield " ".join(block)
            block = []
    if block:
        yield " ".join(block)


def task_documents(path: Union[str, Path], fmt: str = "auto", sentences_per_document: int = 10) -> Iterator[str]:
    """The documents of one training file, as text.

    fmt (str): "auto" (an NER file in any format the NER readers detect) or
        "re-binary" (GAD / EU-ADR: one sentence per line, entity tags kept).
    sentences_per_document (int): sentence-level files (IOB, CoNLL, GAD):
        this many consecutive sentences make one document; document-level
        files (PubTator, BioC, brat, DocBin) keep their documents.
    YIELDS (str): one document, without blank lines inside.
    """
    if fmt not in FORMATS:
        raise ValueError(Errors.E2672.format(fmt=fmt, formats=", ".join(FORMATS)))
    if sentences_per_document < 1:
        raise ValueError(Errors.E2673.format(n=sentences_per_document))
    if fmt == "re-binary":
        texts: Iterator[str] = (r.text for r in read_binary_re(path, tags=()))
        whole_documents = False
    else:
        detected = detect_format(path, "auto")
        docs = read_ner_docs(path, spacy.blank("en"), fmt=detected)
        texts = (doc.text for doc in docs)
        whole_documents = detected in OFFSET_FORMATS or detected == "spacy"
    texts = (_BLANK_LINES.sub("\n", t.strip()) for t in texts)
    texts = (t for t in texts if t)
    yield from (texts if whole_documents else _grouped(texts, sentences_per_document))


def write_task_text(
    inputs: Sequence[Union[str, Path]], output: Union[str, Path], fmt: str = "auto", sentences_per_document: int = 10
) -> Dict[str, int]:
    """Write the documents of all `inputs` to `output` (replaced atomically;
    never one of the inputs).

    RETURNS (Dict[str, int]): documents and characters written.
    """
    output = Path(output)
    for path in inputs:
        if Path(path).exists() and output.exists() and os.path.samefile(path, output):
            raise ValueError(Errors.E2674.format(path=output))
    tmp = output.with_name(output.name + ".tmp")
    n_docs = n_chars = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tmp.open("w", encoding="utf8") as f:
            for path in inputs:
                for doc in task_documents(path, fmt, sentences_per_document):
                    f.write(("\n" if n_docs else "") + doc + "\n")
                    n_docs += 1
                    n_chars += len(doc)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return {"documents": n_docs, "characters": n_chars}
