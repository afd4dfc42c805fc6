"""IOB2 tags: typed and untyped, to and from token spans; spans trimmed of
invisible tokens."""

import unicodedata
from typing import Iterable, List, Optional, Sequence, Tuple

UNTYPED_LABEL = "ENTITY"


def untype_tag(tag: str) -> str:
    """'B-Disease' -> 'B', the paper's untyped tags."""
    return tag.split("-", 1)[0]


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


def entity_types(tag_seqs: Iterable[List[str]]) -> List[str]:
    """The entity types of IOB tag sequences, sorted ('' for untyped B/I tags)."""
    return sorted({label for tags in tag_seqs for _, _, label in iob_to_spans(tags)})


def is_invisible(text: str) -> bool:
    """True when a token shows nothing: every character is whitespace, a
    control character (Cc: U+0000-U+001F, U+007F-U+009F) or a format character
    (Cf: zero-width space U+200B, joiners, BOM U+FEFF, soft hyphen U+00AD,
    the bidirectional marks and embeddings)."""
    return all(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in text)


def trim_invisible(
    spans: Iterable[Tuple[int, int, str]], token_texts: Sequence[str]
) -> List[Tuple[int, int, str]]:
    """The spans with their invisible first and last tokens (is_invisible)
    cut off; a span of invisible tokens only is dropped. Tokens inside a span
    stay: its character offsets are still those of its first and last token."""
    out = []
    for start, end, label in spans:
        while start < end and is_invisible(token_texts[start]):
            start += 1
        while end > start and is_invisible(token_texts[end - 1]):
            end -= 1
        if start < end:
            out.append((start, end, label))
    return out
