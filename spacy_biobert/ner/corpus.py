"""One corpus reader for every format NER corpora come in:
``spacy-biobert.NERCorpus.v1``.

=============  =====================================================  ==========
format         input                                                  auto from
=============  =====================================================  ==========
``iob``        ``token<TAB>tag`` (the BioBERT files; as IOBCorpus.v1)  .tsv; .iob/.conll/.txt/.bio with 2 tab columns
``conll``      CoNLL columns, tab or space, token first, tag last     .iob/.conll/.txt/.bio, other columns
``pubtator``   PubTator title/abstract + offset mentions               .pubtator, or a ``PMID|t|`` first line
``bioc-xml``   BioC XML                                               .xml
``bioc-json``  BioC JSON                                              .json
``brat``       a folder of ``.txt`` + ``.ann``                         a folder with .ann files
``spacy``      a DocBin                                               .spacy
=============  =====================================================  ==========

Token formats give one Doc per sentence (``group_documents``: per
-DOCSTART- document), exactly as IOBCorpus.v1. Offset formats (pubtator,
bioc-xml, bioc-json, brat) give one Doc per document, tokenised by the
pipeline's own tokenizer (see :mod:`.offsets`: mentions are aligned, split or
reported, never dropped; all in ``doc.spans["entities_all"]``, the flat
longest-first choice in ``doc.ents``); ``group_documents`` does not apply.
"""

from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from ..errors import Errors
from .bioc import read_bioc_json, read_bioc_xml
from .brat import read_brat
from .conll import is_two_column_tsv, read_conll_sentences
from .iob import IOBSentence, read_iob_sentences
from .offsets import (
    OffsetDocument,
    ReaderSummary,
    offsets_to_doc,
    relabel,
    resolve_offset_untyped_label,
)
from .pubtator import looks_like_pubtator, read_pubtator
from .readers import IOBCorpus, _copy_words, sentence_to_doc
from .tags import UNTYPED_LABEL, entity_types, spans_to_iob

TOKEN_FORMATS = ("iob", "conll", "spacy")
OFFSET_FORMATS = ("pubtator", "bioc-xml", "bioc-json", "brat")
FORMATS = TOKEN_FORMATS + OFFSET_FORMATS
TOKEN_SUFFIXES = (".tsv", ".iob", ".iob2", ".conll", ".txt", ".bio", ".tab")


def detect_format(path: Union[str, Path], fmt: str = "auto") -> str:
    """The format of ``path``: ``fmt`` when given (checked), else guessed from
    the suffix (and, for text files, the first lines)."""
    path = Path(path)
    if fmt != "auto":
        if fmt not in FORMATS:
            raise ValueError(Errors.E2209.format(fmt=fmt, formats=", ".join(("auto",) + FORMATS)))
        return fmt
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    formats = ", ".join(FORMATS)
    if path.is_dir():
        if any(path.glob("*.ann")):
            return "brat"
        raise ValueError(Errors.E2210.format(path=path, why="a folder without .ann files (BRAT)", formats=formats))
    suffix = path.suffix.lower()
    by_suffix = {".spacy": "spacy", ".pubtator": "pubtator", ".xml": "bioc-xml", ".json": "bioc-json", ".bioc": "bioc-xml"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    if looks_like_pubtator(path):
        return "pubtator"
    with path.open(encoding="utf8", errors="replace") as f:
        start = f.read(200).lstrip()[:1]
    if start == "<":
        return "bioc-xml"
    if start in ("{", "["):
        return "bioc-json"
    if suffix == ".tsv":  # the BioBERT files: strictly token<TAB>tag
        return "iob"
    if suffix in TOKEN_SUFFIXES or suffix == "":
        return "iob" if is_two_column_tsv(path) else "conll"
    raise ValueError(Errors.E2210.format(path=path, why=f"unknown suffix {suffix!r}", formats=formats))


def read_offset_documents(path: Union[str, Path], fmt: str, counts: Optional[Dict[str, int]] = None) -> Iterator[OffsetDocument]:
    """The raw documents of an offset-format file or folder."""
    counts = counts if counts is not None else {}
    counts.setdefault("discontinuous", 0)
    if fmt == "pubtator":
        return read_pubtator(path)
    if fmt == "bioc-xml":
        return read_bioc_xml(path, counts)
    if fmt == "bioc-json":
        return read_bioc_json(path, counts)
    if fmt == "brat":
        return read_brat(path, counts)
    raise ValueError(Errors.E2209.format(fmt=fmt, formats=", ".join(OFFSET_FORMATS)))


def read_token_sentences(path: Union[str, Path], fmt: str, vocab: Optional[Vocab] = None) -> Iterator[IOBSentence]:
    """The sentences (words and IOB tags) of a token-format file; a DocBin
    gives one sentence per Doc."""
    if fmt == "iob":
        return read_iob_sentences(path)
    if fmt == "conll":
        return read_conll_sentences(path)
    if fmt == "spacy":
        return (
            IOBSentence([t.text for t in doc], spans_to_iob(len(doc), ((e.start, e.end, e.label_) for e in doc.ents)), 0, i)
            for i, doc in enumerate(_docbin_docs(path, vocab or Vocab()))
        )
    raise ValueError(Errors.E2209.format(fmt=fmt, formats=", ".join(TOKEN_FORMATS)))


def _docbin_docs(path: Union[str, Path], vocab: Vocab) -> Iterator[Doc]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    try:
        docbin = DocBin().from_disk(path)
    except Exception as err:  # noqa: BLE001 - a file that is not a DocBin
        raise ValueError(Errors.E2211.format(path=path, fmt=".spacy (DocBin)", err=err)) from None
    return docbin.get_docs(vocab)


def read_ner_docs(
    path: Union[str, Path], nlp: Language, *, fmt: str = "auto", group_documents: bool = False,
    untyped: bool = False, untyped_label: str = UNTYPED_LABEL, limit: int = 0,
    types: Optional[Dict[str, str]] = None, summary: Optional[ReaderSummary] = None,
) -> Iterator[Doc]:
    """Gold Docs from a corpus in any format (see the module docstring).

    nlp (Language): the pipeline; offset formats are tokenised by nlp.make_doc.
    untyped_label (str): "" = the corpus's one type if it has exactly one,
        else "ENTITY" (as IOBCorpus.v1).
    types (Optional[Dict[str, str]]): offset formats: keep only these types,
        renamed (type -> label); None keeps all.
    summary (Optional[ReaderSummary]): filled in as the docs are read.
    """
    fmt = detect_format(path, fmt)
    summary = summary if summary is not None else ReaderSummary()
    if fmt in OFFSET_FORMATS:
        counts: Dict[str, int] = {"discontinuous": 0}
        documents = list(read_offset_documents(path, fmt, counts))
        summary.discontinuous += counts["discontinuous"]
        if untyped and not untyped_label:
            kept = [OffsetDocument(d.id, d.text, [(s, e, relabel(lab, types=types) or "") for s, e, lab in d.mentions if relabel(lab, types=types)]) for d in documents]
            untyped_label = resolve_offset_untyped_label(kept, "")
        for n, document in enumerate(documents):
            if limit and n >= limit:
                return
            yield offsets_to_doc(nlp.make_doc, document, summary=summary, untyped=untyped, untyped_label=untyped_label, types=types)
        return
    if fmt == "spacy":
        docs: Iterable[Doc] = _docbin_docs(path, nlp.vocab)
        if untyped and not untyped_label:
            labels = {e.label_ for d in _docbin_docs(path, nlp.vocab) for e in d.ents}
            untyped_label = next(iter(labels)) if len(labels) == 1 else UNTYPED_LABEL
    else:
        sentences = list(read_token_sentences(path, fmt))
        if untyped and not untyped_label:
            found = [t for t in entity_types(s.tags for s in sentences) if t]
            untyped_label = found[0] if len(found) == 1 else UNTYPED_LABEL
        docs = _group(nlp.vocab, sentences, group_documents, untyped, untyped_label)
    for n, doc in enumerate(docs):
        if limit and n >= limit:
            return
        if untyped and fmt == "spacy":
            doc.ents = [doc.char_span(e.start_char, e.end_char, label=untyped_label) for e in doc.ents]
        summary.documents += 1
        summary.mentions += len(doc.ents)
        summary.aligned += len(doc.ents)
        yield doc


def _group(vocab: Vocab, sentences: List[IOBSentence], group_documents: bool, untyped: bool, untyped_label: str) -> Iterator[Doc]:
    if not group_documents:
        for sent in sentences:
            yield sentence_to_doc(vocab, sent, untyped=untyped, untyped_label=untyped_label)
        return
    current: List[Doc] = []
    index = None
    for sent in sentences:
        if current and sent.doc_index != index:
            yield Doc.from_docs(current)
            current = []
        index = sent.doc_index
        current.append(sentence_to_doc(vocab, sent, untyped=untyped, untyped_label=untyped_label))
    if current:
        yield Doc.from_docs(current)


class NERCorpus:
    """Iterate Examples from a corpus in any format, for [corpora] in a
    training config. ``summary`` holds what the last pass read."""

    def __init__(
        self, path: Union[str, Path], *, format: str = "auto", group_documents: bool = False,
        untyped: bool = False, untyped_label: str = UNTYPED_LABEL, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))
        self.format = detect_format(self.path, format)
        self.group_documents = group_documents
        self.untyped = untyped
        self.untyped_label = untyped_label
        self.limit = limit
        self.summary = ReaderSummary()

    def __call__(self, nlp: Language) -> Iterator[Example]:
        if self.format == "iob":  # the IOB reader itself: the same Examples
            iob = IOBCorpus(
                self.path, group_documents=self.group_documents, untyped=self.untyped,
                untyped_label=self.untyped_label, limit=self.limit,
            )
            self.summary = ReaderSummary()
            for eg in iob(nlp):
                self.summary.documents += 1
                self.summary.mentions += len(eg.reference.ents)
                self.summary.aligned += len(eg.reference.ents)
                yield eg
            return
        self.summary = ReaderSummary()
        n = 0
        for doc in read_ner_docs(
            self.path, nlp, fmt=self.format, group_documents=self.group_documents,
            untyped=self.untyped, untyped_label=self.untyped_label, limit=self.limit,
            summary=self.summary,
        ):
            n += 1
            yield Example(_copy_words(doc), doc)
        if n == 0:
            raise ValueError(Errors.E2207.format(path=self.path))


@registry.readers("spacy-biobert.NERCorpus.v1")
def create_ner_corpus(
    path: Optional[Path], format: str = "auto", group_documents: bool = False,
    untyped: bool = False, untyped_label: str = UNTYPED_LABEL, limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """Registered reader for NER corpora in any format: iob, conll, pubtator,
    bioc-xml, bioc-json, brat, spacy, or "auto" (from the suffix and content).
    The other arguments are those of spacy-biobert.IOBCorpus.v1 (for IOB input
    the Examples are the same); group_documents applies to token formats.
    """
    if path is None:
        return lambda nlp: iter([])
    return NERCorpus(
        path, format=format, group_documents=group_documents, untyped=untyped,
        untyped_label=untyped_label, limit=limit,
    )

