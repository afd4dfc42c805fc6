"""Reading the relation extraction (RE) data sets of the BioBERT paper.

GAD and EU-ADR come pre-processed by BioBERT: one sentence per line with the
two entities already replaced by ``@GENE$`` and ``@DISEASE$``, a binary label,
10 folds of ``train.tsv`` (``sentence<TAB>label``, no header) and ``test.tsv``
(a header ``index<TAB>sentence<TAB>label``, then three columns).

ChemProt is the original BioCreative VI corpus with character offsets. Per
split: ``*_abstracts*.tsv`` (PMID, title, abstract), ``*_entities*.tsv`` (PMID,
T-id, CHEMICAL|GENE-Y|GENE-N, start, end, text; offsets into title + one
separator character + abstract) and ``*_gold_standard.tsv`` (PMID, CPR:n,
Arg1:T#, Arg2:T#). Each document is split into sentences by a swappable
splitter (spaCy's rule-based ``sentencizer`` by default); every (CHEMICAL,
GENE) mention pair inside one sentence is a candidate, labelled with its CPR
class when it is in the gold standard and its class is one of the evaluated
ones (CPR:3, 4, 5, 6, 9), else ``false``. Gold relations whose two entities lie
in different sentences cannot be candidates: they are counted as lost (and
still count as false negatives in the official evaluation).

Every malformed line fails with ``file:line`` in the message.
"""

from bisect import bisect_right
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
)

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from ..errors import Errors
from .binary import BinaryRERecord, read_binary_re
from .chemprot import (
    GENE_TYPES,
    ChemProtDocument,
    ChemProtPair,
    ChemProtStats,
    Mention,
    PathT,
    SentenceSplitter,
    SpacySentenceSplitter,
    _find_file,
    mark_pair,
    merge_sentences,
    read_chemprot,
    read_chemprot_documents,
    read_chemprot_gold,
)
from .marking import (
    BINARY_LABELS,
    CHEM_GENE_TAG,
    CHEMICAL_TAG,
    CPR_LABELS,
    DISEASE_TAG,
    GENE_TAG,
    NEGATIVE_LABEL,
    one_hot_cats,
)


def binary_record_to_doc(
    vocab: Vocab, record: BinaryRERecord, *, make_doc: Optional[Callable[[str], Doc]] = None
) -> Doc:
    """A Doc of the anonymised sentence with cats {"0": ., "1": .}."""
    doc = make_doc(record.text) if make_doc else Doc(vocab, words=record.text.split())
    doc.cats = one_hot_cats(str(record.label), BINARY_LABELS)
    return doc


def chemprot_pair_to_doc(
    vocab: Vocab, pair: ChemProtPair, *, labels: Sequence[str] = CPR_LABELS,
    negative_label: str = NEGATIVE_LABEL,
    make_doc: Optional[Callable[[str], Doc]] = None,
    head_tag: str = CHEMICAL_TAG, tail_tag: str = GENE_TAG,
    overlap_tag: str = CHEM_GENE_TAG,
) -> Doc:
    """A Doc of the marked sentence (see mark_pair) with one-hot cats over
    labels + negative_label (every gold class of a multi-label pair is 1.0)."""
    text = mark_pair(pair, head_tag=head_tag, tail_tag=tail_tag, overlap_tag=overlap_tag)
    doc = make_doc(text) if make_doc else Doc(vocab, words=text.split())
    gold = pair.gold_labels or (negative_label,)
    doc.cats = one_hot_cats(gold, list(labels) + [negative_label])
    return doc


class BinaryRECorpus:
    """Examples (doc.cats) from a GAD / EU-ADR file, for [corpora]."""

    def __init__(self, path: PathT, *, limit: int = 0) -> None:
        self.path = Path(path)
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        for n, record in enumerate(read_binary_re(self.path)):
            if self.limit and n >= self.limit:
                return
            ref = binary_record_to_doc(nlp.vocab, record, make_doc=nlp.make_doc)
            yield Example(nlp.make_doc(record.text), ref)


@registry.readers("spacy-biobert.BinaryRECorpus.v1")
def create_binary_re_corpus(path: Path, limit: int = 0) -> BinaryRECorpus:
    """Registered reader: GAD / EU-ADR sentences with cats {"0", "1"}.

    path (Path): a train.tsv or test.tsv of one fold.
    limit (int): stop after this many examples (0 = all).
    """
    return BinaryRECorpus(path, limit=limit)


class ChemProtCorpus:
    """Examples (marked sentence, doc.cats) from a ChemProt split folder."""

    def __init__(
        self, path: PathT, *, splitter: Optional[SentenceSplitter] = None,
        labels: Sequence[str] = CPR_LABELS, head_tag: str = CHEMICAL_TAG,
        tail_tag: str = GENE_TAG, overlap_tag: str = CHEM_GENE_TAG, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.splitter = splitter
        self.labels = list(labels)
        self.tags = {"head_tag": head_tag, "tail_tag": tail_tag, "overlap_tag": overlap_tag}
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        pairs, _ = read_chemprot(self.path, splitter=self.splitter, labels=self.labels)
        for n, pair in enumerate(pairs):
            if self.limit and n >= self.limit:
                return
            ref = chemprot_pair_to_doc(
                nlp.vocab, pair, labels=self.labels, make_doc=nlp.make_doc, **self.tags
            )
            yield Example(nlp.make_doc(ref.text), ref)


@registry.readers("spacy-biobert.ChemProtCorpus.v1")
def create_chemprot_corpus(
    path: Path, splitter: Optional[SentenceSplitter] = None,
    labels: Sequence[str] = CPR_LABELS, head_tag: str = CHEMICAL_TAG,
    tail_tag: str = GENE_TAG, overlap_tag: str = CHEM_GENE_TAG, limit: int = 0,
) -> ChemProtCorpus:
    """Registered reader: ChemProt candidate pairs as marked sentences with
    cats over the CPR labels and "false".

    path (Path): a split folder (chemprot_training, development, chemprot_test_gs).
    splitter (Optional[SentenceSplitter]): e.g. spacy-biobert.sentencizer_splitter.v1.
    labels (List[str]): the evaluated classes.
    head_tag, tail_tag, overlap_tag (str): see mark_entities.
    limit (int): stop after this many examples (0 = all).
    """
    return ChemProtCorpus(
        path, splitter=splitter, labels=labels, head_tag=head_tag, tail_tag=tail_tag,
        overlap_tag=overlap_tag, limit=limit,
    )


ENTITIES_SPANS_KEY = "entities"


GENE = "GENE"


DISEASE = "DISEASE"


def _blank_tokenizer(vocab: Vocab) -> Callable[[str], Doc]:
    from spacy.lang.en import English

    return English(vocab=vocab).make_doc


def _doc_with_cuts(
    vocab: Vocab, text: str, cuts: Iterable[int],
    make_doc: Optional[Callable[[str], Doc]] = None,
) -> Doc:
    """A Doc of `text` tokenized by make_doc (default: whitespace), with tokens
    split further at each character offset in `cuts`, so that every mention
    and sentence boundary falls on a token boundary."""
    base = make_doc(text) if make_doc else _blank_tokenizer(vocab)(text)
    points = sorted(set(c for c in cuts if 0 < c < len(text)))
    words: List[str] = []
    spaces: List[bool] = []
    for tok in base:
        start, end = tok.idx, tok.idx + len(tok.text)
        k = bisect_right(points, start)
        bounds = [start]
        while k < len(points) and points[k] < end:
            bounds.append(points[k])
            k += 1
        bounds.append(end)
        for a, b in zip(bounds, bounds[1:]):
            words.append(text[a:b])
            spaces.append(False)
        spaces[-1] = bool(tok.whitespace_)
    return Doc(vocab, words=words, spaces=spaces)


def _set_sentences(doc: Doc, starts: Iterable[int]) -> None:
    """Sentence boundaries at the tokens that begin at the given offsets."""
    starts = set(starts)
    for i, tok in enumerate(doc):
        tok.is_sent_start = i == 0 or tok.idx in starts


def _relation_record(head: Any, tail: Any, label: str) -> Dict[str, Any]:
    def span(s: Any) -> Dict[str, Any]:
        return {
            "start": s.start, "end": s.end, "start_char": s.start_char,
            "end_char": s.end_char, "label": s.label_,
        }

    return {"head": span(head), "tail": span(tail), "label": label}


def _tokens_copy(ref: Doc) -> Doc:
    """A doc with the same tokens and whitespace as ref, and nothing else."""
    return Doc(ref.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])


def _predicted_copy(ref: Doc, spans_key: Optional[str]) -> Doc:
    """The reference doc's tokens, sentences and entities, without relations:
    what the relation extractor sees in training and evaluation."""
    pred = _tokens_copy(ref)
    if ref.has_annotation("SENT_START"):
        for a, b in zip(pred, ref):
            a.is_sent_start = b.is_sent_start
    pred.ents = [pred.char_span(e.start_char, e.end_char, label=e.label_) for e in ref.ents]
    if spans_key and spans_key in ref.spans:
        pred.spans[spans_key] = [
            pred.char_span(s.start_char, s.end_char, label=s.label_) for s in ref.spans[spans_key]
        ]
    return pred


def binary_record_to_relation_doc(
    vocab: Vocab, record: BinaryRERecord, *,
    make_doc: Optional[Callable[[str], Doc]] = None,
    head_label: str = GENE, tail_label: str = DISEASE,
    head_tag: str = GENE_TAG, tail_tag: str = DISEASE_TAG,
    positive_label: str = "1",
) -> Doc:
    """A GAD / EU-ADR sentence as a reference doc for the relation extractor:
    the two tags are entities (GENE, DISEASE), and a positive record has one
    relation GENE -> DISEASE labelled positive_label. The extractor, with
    tags {GENE: @GENE$, DISEASE: @DISEASE$}, then classifies the sentence as
    BioBERT does (the tags replace themselves)."""
    from ..extensions import install_extensions

    install_extensions()
    text = record.text
    found = []
    for label, tag in ((head_label, head_tag), (tail_label, tail_tag)):
        start = text.find(tag)
        if start < 0:
            raise ValueError(Errors.E2303.format(
                path="<record>", line=record.line, counts={tag: 0}, tags=(head_tag, tail_tag)
            ))
        found.append((start, start + len(tag), label))
    doc = _doc_with_cuts(vocab, text, [c for s, e, _ in found for c in (s, e)], make_doc)
    spans = [doc.char_span(s, e, label=label) for s, e, label in found]
    doc.ents = sorted(spans, key=lambda s: s.start)
    doc._.relations = [_relation_record(spans[0], spans[1], positive_label)] if record.label == 1 else []
    return doc


def chemprot_document_to_doc(
    vocab: Vocab, document: ChemProtDocument,
    gold: Sequence[Tuple[str, str, str, str, int]], *,
    splitter: Optional[SentenceSplitter] = None,
    make_doc: Optional[Callable[[str], Doc]] = None,
    labels: Sequence[str] = CPR_LABELS, merge_gene_types: bool = True,
    spans_key: str = ENTITIES_SPANS_KEY,
) -> Doc:
    """A ChemProt abstract as a reference doc: sentences (the splitter's, joined
    where a mention straddles two, as in chemprot_pairs), every mention in
    doc.spans[spans_key] (overlapping ones too), the non-overlapping longest
    mentions in doc.ents, and the gold relations of the evaluated labels in
    doc._.relations, those across sentences included (they can never be
    candidates, so they count as false negatives, as in the official
    evaluation). GENE-Y / GENE-N become GENE when merge_gene_types is set.

    gold: this document's relations from read_chemprot_gold.
    """
    from spacy.util import filter_spans

    from ..extensions import install_extensions

    install_extensions()
    splitter = splitter if splitter is not None else SpacySentenceSplitter()
    text = document.text
    mentions = sorted(document.entities.values(), key=lambda m: (m.start, m.end, m.id))
    sentences, _ = merge_sentences(splitter(text), mentions)
    cuts = [c for m in mentions for c in (m.start, m.end)] + [s for s, _ in sentences]
    doc = _doc_with_cuts(vocab, text, cuts, make_doc)
    _set_sentences(doc, [s for s, _ in sentences])

    def label_of(m: Mention) -> str:
        return GENE if merge_gene_types and m.type in GENE_TYPES else m.type

    spans = {}
    for m in mentions:
        span = doc.char_span(m.start, m.end, label=label_of(m))
        if span is None:  # a mention with whitespace at its edge
            span = doc.char_span(m.start, m.end, label=label_of(m), alignment_mode="contract")
        if span is not None:
            spans[m.id] = span
    unique = list({(s.start, s.end, s.label_): s for s in spans.values()}.values())
    doc.spans[spans_key] = sorted(unique, key=lambda s: (s.start, s.end, s.label_))
    doc.ents = filter_spans(unique)
    relations = []
    for _, label, arg1, arg2, _ in gold:
        if label in labels and arg1 in spans and arg2 in spans:
            relations.append(_relation_record(spans[arg1], spans[arg2], label))
    doc._.relations = relations
    return doc


def read_chemprot_docs(
    folder: PathT, vocab: Vocab, *, splitter: Optional[SentenceSplitter] = None,
    make_doc: Optional[Callable[[str], Doc]] = None, labels: Sequence[str] = CPR_LABELS,
    merge_gene_types: bool = True, spans_key: str = ENTITIES_SPANS_KEY,
    sep: str = " ", strict: bool = True,
) -> Iterator[Doc]:
    """Reference docs (see chemprot_document_to_doc) of a ChemProt split folder,
    in the order of its abstracts file."""
    folder = Path(folder)
    stats = ChemProtStats()
    documents = read_chemprot_documents(
        _find_file(folder, "*_abstracts*.tsv"), _find_file(folder, "*_entities*.tsv"),
        sep=sep, strict=strict, stats=stats,
    )
    gold = read_chemprot_gold(_find_file(folder, "*_gold_standard.tsv"), documents, stats=stats)
    by_doc: Dict[str, List[Tuple[str, str, str, str, int]]] = {}
    for rel in gold:
        by_doc.setdefault(rel[0], []).append(rel)
    splitter = splitter if splitter is not None else SpacySentenceSplitter()
    for pmid, document in documents.items():
        yield chemprot_document_to_doc(
            vocab, document, by_doc.get(pmid, []), splitter=splitter, make_doc=make_doc,
            labels=labels, merge_gene_types=merge_gene_types, spans_key=spans_key,
        )


class BinaryRERelationCorpus:
    """Examples for the relation extractor from a GAD / EU-ADR file: entity
    docs in, gold doc._.relations on the reference."""

    def __init__(self, path: PathT, *, limit: int = 0) -> None:
        self.path = Path(path)
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        from ..extensions import install_extensions

        install_extensions()
        for n, record in enumerate(read_binary_re(self.path)):
            if self.limit and n >= self.limit:
                return
            ref = binary_record_to_relation_doc(nlp.vocab, record, make_doc=nlp.make_doc)
            yield Example(_predicted_copy(ref, None), ref)


@registry.readers("spacy-biobert.BinaryRERelationCorpus.v1")
def create_binary_re_relation_corpus(path: Path, limit: int = 0) -> BinaryRERelationCorpus:
    """Registered reader: GAD / EU-ADR sentences as docs with the two tags as
    GENE and DISEASE entities and, for label 1, the relation GENE -> DISEASE
    labelled "1" in doc._.relations (for biobert_relation_extractor).

    path (Path): a train.tsv or test.tsv of one fold.
    limit (int): stop after this many examples (0 = all).
    """
    return BinaryRERelationCorpus(path, limit=limit)


class ChemProtRelationCorpus:
    """Examples for the relation extractor: one ChemProt abstract per example,
    gold entities (doc.ents and doc.spans[spans_key]) and sentences on both
    docs, gold relations on the reference."""

    def __init__(
        self, path: PathT, *, splitter: Optional[SentenceSplitter] = None,
        labels: Sequence[str] = CPR_LABELS, merge_gene_types: bool = True,
        spans_key: str = ENTITIES_SPANS_KEY, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.splitter = splitter
        self.labels = list(labels)
        self.merge_gene_types = merge_gene_types
        self.spans_key = spans_key
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        from ..extensions import install_extensions

        install_extensions()
        docs = read_chemprot_docs(
            self.path, nlp.vocab, splitter=self.splitter, make_doc=nlp.make_doc,
            labels=self.labels, merge_gene_types=self.merge_gene_types, spans_key=self.spans_key,
        )
        for n, ref in enumerate(docs):
            if self.limit and n >= self.limit:
                return
            yield Example(_predicted_copy(ref, self.spans_key), ref)


@registry.readers("spacy-biobert.ChemProtRelationCorpus.v1")
def create_chemprot_relation_corpus(
    path: Path, splitter: Optional[SentenceSplitter] = None,
    labels: Sequence[str] = CPR_LABELS, merge_gene_types: bool = True,
    spans_key: str = ENTITIES_SPANS_KEY, limit: int = 0,
) -> ChemProtRelationCorpus:
    """Registered reader: ChemProt abstracts with gold entities and sentences,
    gold relations (CPR labels) in the reference's doc._.relations.

    path (Path): a split folder (chemprot_training, development, chemprot_test_gs).
    splitter (Optional[SentenceSplitter]): default spaCy's English sentencizer.
    labels (List[str]): the evaluated classes.
    merge_gene_types (bool): label GENE-Y and GENE-N mentions as GENE.
    spans_key (str): the span group with every mention (overlapping ones too).
    limit (int): stop after this many abstracts (0 = all).
    """
    return ChemProtRelationCorpus(
        path, splitter=splitter, labels=labels, merge_gene_types=merge_gene_types,
        spans_key=spans_key, limit=limit,
    )


class ChemProtNERCorpus:
    """NER examples from ChemProt: one sentence per example (the splitter's),
    entities = the longest non-overlapping mentions (nested ones cannot be
    doc.ents; counted in n_nested after a pass)."""

    def __init__(
        self, path: PathT, *, splitter: Optional[SentenceSplitter] = None,
        merge_gene_types: bool = True, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.splitter = splitter
        self.merge_gene_types = merge_gene_types
        self.limit = limit
        self.n_mentions = 0
        self.n_nested = 0
        if not self.path.exists():
            raise FileNotFoundError(Errors.E2001.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        from ..extensions import install_extensions

        install_extensions()
        docs = read_chemprot_docs(
            self.path, nlp.vocab, splitter=self.splitter, make_doc=nlp.make_doc,
            merge_gene_types=self.merge_gene_types,
        )
        n = 0
        self.n_mentions = self.n_nested = 0
        for doc in docs:
            self.n_mentions += len(doc.spans[ENTITIES_SPANS_KEY])
            self.n_nested += len(doc.spans[ENTITIES_SPANS_KEY]) - len(doc.ents)
            for sent in doc.sents:
                if not sent.text.strip():
                    continue
                if self.limit and n >= self.limit:
                    return
                ref = sent.as_doc()
                yield Example(_tokens_copy(ref), ref)
                n += 1


@registry.readers("spacy-biobert.ChemProtNERCorpus.v1")
def create_chemprot_ner_corpus(
    path: Path, splitter: Optional[SentenceSplitter] = None,
    merge_gene_types: bool = True, limit: int = 0,
) -> ChemProtNERCorpus:
    """Registered reader: ChemProt sentences with CHEMICAL and GENE entities
    (GENE-Y / GENE-N unless merge_gene_types is false), for biobert_ner.

    path (Path): a split folder.
    limit (int): stop after this many sentences (0 = all).
    """
    return ChemProtNERCorpus(path, splitter=splitter, merge_gene_types=merge_gene_types, limit=limit)
