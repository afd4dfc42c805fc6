"""Reading the IOB TSV format of the BioBERT NER data sets.

One ``token<TAB>tag`` per line, a blank line between sentences, IOB2 tags with
a type suffix (``B-Disease``), optional ``-DOCSTART-<TAB>O`` document lines.
Entities are read the way conlleval and seqeval's default mode read them: an
``I-X`` that does not continue an entity of type X starts a new one, so the
entities on the ``Doc`` are exactly those the paper's metric scores.
"""

from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from ..errors import Errors
from .iob import IOBSentence, read_iob_sentences
from .tags import UNTYPED_LABEL, entity_types, iob_to_spans


def sentence_to_doc(
    vocab: Vocab, sent: IOBSentence, *, untyped: bool = False,
    untyped_label: str = UNTYPED_LABEL,
) -> Doc:
    """A Doc of one sentence with its gold entities."""
    doc = Doc(vocab, words=sent.words)
    ents = []
    for start, end, label in iob_to_spans(sent.tags):
        ents.append(Span(doc, start, end, label=untyped_label if untyped or not label else label))
    doc.ents = ents
    return doc


def read_iob_docs(
    path: Union[str, Path], vocab: Vocab, *, group_documents: bool = False,
    untyped: bool = False, untyped_label: str = UNTYPED_LABEL,
    limit: int = 0,
) -> Iterator[Doc]:
    """Docs with gold entities from an IOB file.

    path (Union[str, Path]): the file.
    vocab (Vocab): the vocab for the docs.
    group_documents (bool): one Doc per -DOCSTART- document (sentence
        boundaries kept) instead of one Doc per sentence.
    untyped (bool): the paper's untyped B/I/O tags: every entity gets
        untyped_label.
    limit (int): stop after this many docs (0 = all).
    YIELDS (Doc): the docs.
    """
    sentences = read_iob_sentences(path)
    n = 0
    if not group_documents:
        for sent in sentences:
            yield sentence_to_doc(vocab, sent, untyped=untyped, untyped_label=untyped_label)
            n += 1
            if limit and n >= limit:
                return
        return
    current: List[Doc] = []
    current_index = None
    for sent in sentences:
        if current and sent.doc_index != current_index:
            yield Doc.from_docs(current)
            n += 1
            if limit and n >= limit:
                return
            current = []
        current_index = sent.doc_index
        current.append(sentence_to_doc(vocab, sent, untyped=untyped, untyped_label=untyped_label))
    if current:
        yield Doc.from_docs(current)


def resolve_untyped_label(path: Union[str, Path], untyped_label: str) -> str:
    """The label untyped entities get. An empty untyped_label means: the file's
    one entity type when it has exactly one (NCBI-disease: 'Disease', so a
    pipeline trained untyped still says what it finds), else UNTYPED_LABEL
    (JNLPBA's five types become one 'ENTITY' class, the paper's protocol)."""
    if untyped_label:
        return untyped_label
    types = [t for t in entity_types(sent.tags for sent in read_iob_sentences(path)) if t]
    return types[0] if len(types) == 1 else UNTYPED_LABEL


class IOBCorpus:
    """Iterate Examples from an IOB TSV file, for [corpora] in a training config."""

    def __init__(
        self, path: Union[str, Path], *, group_documents: bool = False,
        untyped: bool = False, untyped_label: str = UNTYPED_LABEL, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.group_documents = group_documents
        self.untyped = untyped
        self.untyped_label = untyped_label
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))
        if self.untyped and not self.untyped_label:
            self.untyped_label = resolve_untyped_label(self.path, "")

    def __call__(self, nlp: Language) -> Iterator[Example]:
        n = 0
        for doc in read_iob_docs(
            self.path, nlp.vocab, group_documents=self.group_documents,
            untyped=self.untyped, untyped_label=self.untyped_label, limit=self.limit,
        ):
            n += 1
            yield Example(_copy_words(doc), doc)
        if n == 0:
            raise ValueError(Errors.E2207.format(path=self.path))


def _copy_words(doc: Doc) -> Doc:
    """The unannotated input Doc: same tokens (and sentence starts) as the gold."""
    pred = Doc(
        doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc],
        sent_starts=[t.is_sent_start for t in doc] if doc.has_annotation("SENT_START") else None,
    )
    return pred


@registry.readers("spacy-biobert.IOBCorpus.v1")
def create_iob_corpus(
    path: Optional[Path], group_documents: bool = False, untyped: bool = False,
    untyped_label: str = UNTYPED_LABEL, limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """Registered reader for IOB TSV files (the BioBERT NER format).

    path (Optional[Path]): the file; None gives an empty corpus.
    group_documents (bool): one Doc per -DOCSTART- document.
    untyped (bool): the paper's untyped tags (all entities get untyped_label).
    untyped_label (str): the label of untyped entities; "" = the file's one
        entity type if it has exactly one, else "ENTITY".
    limit (int): stop after this many docs (0 = all).
    """
    if path is None:
        return lambda nlp: iter([])
    return IOBCorpus(
        path, group_documents=group_documents, untyped=untyped,
        untyped_label=untyped_label, limit=limit,
    )
