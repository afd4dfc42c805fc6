"""Reading the IOB TSV format of the BioBERT NER data sets.

One ``token<TAB>tag`` per line, a blank line between sentences, IOB2 tags with
a type suffix (``B-Disease``), optional ``-DOCSTART-<TAB>O`` document lines.
Entities are read the way conlleval and seqeval's default mode read them: an
``I-X`` that does not continue an entity of type X starts a new one, so the
entities on the ``Doc`` are exactly those the paper's metric scores.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from .errors import Errors

DOCSTART = "-DOCSTART-"
UNTYPED_LABEL = "ENTITY"


@dataclass
class IOBSentence:
    """One sentence of an IOB file: tokens, their tags as written, and the
    line number of its first token (for error messages)."""

    words: List[str]
    tags: List[str]
    line: int
    doc_index: int = 0


@dataclass
class IOBDocument:
    sentences: List[IOBSentence] = field(default_factory=list)


def _check_tag(tag: str, path: Union[str, Path], line: int) -> str:
    if tag == "O":
        return tag
    prefix, sep, label = tag.partition("-")
    if prefix in ("B", "I") and (label or not sep):
        return tag
    raise ValueError(Errors.E002.format(path=path, line=line, tag=tag))


def untype_tag(tag: str) -> str:
    """'B-Disease' -> 'B', the paper's untyped tags."""
    return tag.split("-", 1)[0]


def read_iob_sentences(path: Union[str, Path]) -> Iterator[IOBSentence]:
    """Yield the sentences of an IOB TSV file, checking every line.

    path (Union[str, Path]): the file.
    YIELDS (IOBSentence): one per sentence, with doc_index counting
        -DOCSTART- lines.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E004.format(path=path))
    words: List[str] = []
    tags: List[str] = []
    first = 0
    doc_index = 0
    seen_docstart = False
    with path.open(encoding="utf8") as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if words:
                    yield IOBSentence(words, tags, first, doc_index)
                    words, tags = [], []
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise ValueError(
                    Errors.E001.format(path=path, line=i, content=line[:80])
                )
            word, tag = fields
            if word == DOCSTART:
                if words:
                    yield IOBSentence(words, tags, first, doc_index)
                    words, tags = [], []
                if seen_docstart:
                    doc_index += 1
                seen_docstart = True
                continue
            if not word.strip():
                raise ValueError(Errors.E003.format(path=path, line=i))
            if not words:
                first = i
            words.append(word)
            tags.append(_check_tag(tag.strip(), path, i))
    if words:
        yield IOBSentence(words, tags, first, doc_index)


def iob_to_spans(tags: List[str]) -> List[Tuple[int, int, str]]:
    """Entity (start, end, label) token offsets from IOB tags, read as
    conlleval/seqeval's default mode reads them."""
    spans: List[Tuple[int, int, str]] = []
    start: Optional[int] = None
    label = ""
    for i, tag in enumerate(tags):
        prefix, _, typ = tag.partition("-")
        continues = prefix == "I" and start is not None and typ == label
        if start is not None and not continues:
            spans.append((start, i, label))
            start = None
        if prefix == "B" or (prefix == "I" and not continues):
            start, label = i, typ
    if start is not None:
        spans.append((start, len(tags), label))
    return spans


def spans_to_iob(n_tokens: int, spans: Iterable[Tuple[int, int, str]]) -> List[str]:
    """IOB2 tags for n_tokens tokens from (start, end, label) spans."""
    tags = ["O"] * n_tokens
    for start, end, label in spans:
        suffix = f"-{label}" if label else ""
        tags[start] = "B" + suffix
        for i in range(start + 1, end):
            tags[i] = "I" + suffix
    return tags


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


def entity_types(tag_seqs: Iterable[List[str]]) -> List[str]:
    """The entity types of IOB tag sequences, sorted ('' for untyped B/I tags)."""
    return sorted({label for tags in tag_seqs for _, _, label in iob_to_spans(tags)})


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
            raise FileNotFoundError(Errors.E004.format(path=self.path))
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
            raise ValueError(Errors.E012.format(path=self.path))


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
