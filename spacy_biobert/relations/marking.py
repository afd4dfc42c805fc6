"""Entity marking (the paper's @GENE$ / @CHEMICAL$ tags) and the relation label sets."""

from typing import (
    Dict,
    Iterable,
    Sequence,
    Tuple,
    Union,
)

from ..errors import Errors

GENE_TAG = "@GENE$"


DISEASE_TAG = "@DISEASE$"


CHEMICAL_TAG = "@CHEMICAL$"


CHEM_GENE_TAG = "@CHEM-GENE$"


BINARY_TAGS = (GENE_TAG, DISEASE_TAG)


BINARY_LABELS = ("0", "1")


CPR_LABELS = ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9")


NEGATIVE_LABEL = "false"


def mark_entities(
    text: str, head: Tuple[int, int], tail: Tuple[int, int], *,
    head_tag: str = CHEMICAL_TAG, tail_tag: str = GENE_TAG,
    overlap_tag: str = CHEM_GENE_TAG,
) -> str:
    """Replace two mentions of a sentence by tags (BioBERT's anonymisation).

    Disjoint mentions are each replaced by their tag. Overlapping mentions
    (identical spans, one nested in the other, or crossing) are replaced
    together: their union becomes one overlap_tag, so no tag splits a word and
    neither mention's text leaks. Other mentions of the sentence stay as text.

    text (str): the sentence.
    head (Tuple[int, int]): head offsets into text.
    tail (Tuple[int, int]): tail offsets into text.
    RETURNS (str): the marked sentence.
    """
    for name, (start, end) in (("head", head), ("tail", tail)):
        if not 0 <= start < end <= len(text):
            raise ValueError(
                Errors.E2312.format(
                    start=0, end=len(text), which=name, ent_start=start, ent_end=end
                )
            )
    if head[0] < tail[1] and tail[0] < head[1]:
        start, end = min(head[0], tail[0]), max(head[1], tail[1])
        return text[:start] + overlap_tag + text[end:]
    spans = sorted([(head, head_tag), (tail, tail_tag)], reverse=True)
    for (start, end), tag in spans:
        text = text[:start] + tag + text[end:]
    return text


def one_hot_cats(gold: Union[str, Iterable[str]], labels: Sequence[str]) -> Dict[str, float]:
    """doc.cats with 1.0 for the gold label(s) and 0.0 for the others."""
    gold_set = {gold} if isinstance(gold, str) else set(gold)
    return {label: float(label in gold_set) for label in labels}
