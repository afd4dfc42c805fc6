"""Raw documents with character-offset mentions -> Docs tokenised by the
pipeline's own tokenizer (shared by the PubTator, BioC and BRAT readers).

The text goes through ``nlp.make_doc`` (the tokenizer of the pipeline being
trained), so training sees the tokens inference sees. A mention is then placed
on the tokens:

- *aligned*: its offsets fall on token boundaries (after trimming whitespace
  at its ends);
- *split*: an offset falls inside a token, and that token is split there (the
  Doc is rebuilt with the token cut in two, text and whitespace unchanged), so
  the mention aligns;
- *reported*: it cannot be placed (offsets outside the text, empty or only
  whitespace): a warning names the document and the offsets, and it is counted.

No mention is dropped silently. Every mention is kept in
``doc.spans[SPANS_KEY]`` ("entities_all"), overlapping and nested ones
included; ``doc.ents`` gets a flat, non-overlapping choice made by
``spacy.util.filter_spans``: longest first, then earliest. Mentions left out
of ``doc.ents`` by that choice are counted as *overlapping*.
"""

import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..errors import Warnings
from .tags import UNTYPED_LABEL

SPANS_KEY = "entities_all"

Mention = Tuple[int, int, str]


@dataclass
class OffsetDocument:
    """One raw document: its id, text and (start, end, type) mentions, with
    offsets indexing ``text``."""

    id: str
    text: str
    mentions: List[Mention] = field(default_factory=list)


@dataclass
class ReaderSummary:
    """What a reader did with the mentions of a corpus."""

    documents: int = 0
    mentions: int = 0
    aligned: int = 0
    split: int = 0
    reported: int = 0
    overlapping: int = 0
    discontinuous: int = 0

    def as_dict(self) -> Dict[str, int]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        text = (
            f"{self.documents} documents, {self.mentions} mentions: {self.aligned} aligned "
            f"with tokens, {self.split} aligned by splitting a token, {self.reported} "
            f"reported (not placed), {self.overlapping} overlapping (in "
            f"doc.spans[{SPANS_KEY!r}], not in doc.ents)"
        )
        if self.discontinuous:
            text += f", {self.discontinuous} discontinuous (one span per fragment)"
        return text


def relabel(
    label: str, *, untyped: bool = False, untyped_label: str = UNTYPED_LABEL,
    types: Optional[Dict[str, str]] = None,
) -> Optional[str]:
    """The label a mention of type ``label`` gets: with ``types`` (a mapping),
    types not in it are left out (None) and the others renamed; with
    ``untyped``, every kept mention gets ``untyped_label``."""
    if types is not None:
        if label not in types:
            return None
        label = types[label]
    return (untyped_label or UNTYPED_LABEL) if untyped else label


def resolve_offset_untyped_label(docs: Iterable[OffsetDocument], untyped_label: str) -> str:
    """As for IOB files: an empty untyped_label means the corpus's one type
    when it has exactly one, else UNTYPED_LABEL."""
    if untyped_label:
        return untyped_label
    found: Set[str] = {label for d in docs for _, _, label in d.mentions}
    return next(iter(found)) if len(found) == 1 else UNTYPED_LABEL


def _trim(text: str, start: int, end: int) -> Tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_doc(doc: Doc, cuts: Set[int]) -> Doc:
    """The Doc with every token that contains a cut offset (strictly inside it)
    split there; text and whitespace unchanged."""
    words: List[str] = []
    spaces: List[bool] = []
    for token in doc:
        inner = sorted(c - token.idx for c in cuts if token.idx < c < token.idx + len(token))
        pieces = [token.text[a:b] for a, b in zip([0] + inner, inner + [len(token)])]
        words.extend(pieces)
        spaces.extend([False] * (len(pieces) - 1) + [bool(token.whitespace_)])
    return Doc(doc.vocab, words=words, spaces=spaces)


def offsets_to_doc(
    make_doc: Callable[[str], Doc], document: OffsetDocument, *,
    summary: Optional[ReaderSummary] = None, untyped: bool = False,
    untyped_label: str = UNTYPED_LABEL, types: Optional[Dict[str, str]] = None,
    spans_key: str = SPANS_KEY,
) -> Doc:
    """A Doc of the document's text, tokenised by ``make_doc`` (the pipeline's
    ``nlp.make_doc``), with every placeable mention in ``doc.spans[spans_key]``
    and the flat choice in ``doc.ents``. ``summary`` is updated."""
    summary = summary if summary is not None else ReaderSummary()
    summary.documents += 1
    doc = make_doc(document.text)
    n = len(document.text)
    placed: List[Mention] = []
    cuts: Set[int] = set()
    for start, end, label in document.mentions:
        new_label = relabel(label, untyped=untyped, untyped_label=untyped_label, types=types)
        if new_label is None:
            continue
        summary.mentions += 1
        if not (0 <= start < end <= n) or not document.text[start:end].strip():
            summary.reported += 1
            warnings.warn(Warnings.W2201.format(doc_id=document.id, start=start, end=end, n=n), stacklevel=2)
            continue
        start, end = _trim(document.text, start, end)
        if doc.char_span(start, end, alignment_mode="strict") is None:
            summary.split += 1
            cuts.update((start, end))
        else:
            summary.aligned += 1
        placed.append((start, end, new_label))
    if cuts:
        doc = _split_doc(doc, cuts)
    spans: List[Span] = []
    for start, end, label in sorted(set(placed)):
        span = doc.char_span(start, end, label=label, alignment_mode="strict")
        if span is None:  # cannot happen after the split; never drop silently
            summary.reported += 1
            warnings.warn(Warnings.W2201.format(doc_id=document.id, start=start, end=end, n=n), stacklevel=2)
            continue
        spans.append(span)
    doc.spans[spans_key] = spans
    flat = filter_spans(spans)
    doc.ents = flat
    # a duplicate (same offsets and label) is kept once: counted as overlapping
    summary.overlapping += len(spans) - len(flat) + (len(placed) - len(set(placed)))
    return doc


def mention_offsets(docs: Sequence[Doc], key: str = SPANS_KEY) -> List[List[Mention]]:
    """(start_char, end_char, label) of each doc's mentions (its span group
    ``key`` when it has one, else doc.ents)."""
    out = []
    for doc in docs:
        spans = doc.spans[key] if key in doc.spans else doc.ents
        out.append([(s.start_char, s.end_char, s.label_) for s in spans])
    return out
