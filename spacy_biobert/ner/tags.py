"""IOB2 tags: typed and untyped, to and from token spans."""

from typing import Iterable, List, Optional, Tuple

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
