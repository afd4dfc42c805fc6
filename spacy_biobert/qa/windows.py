"""Passage windows for QA: a question plus a stride of the passage, and the mapping between wordpieces and characters."""

from typing import List, Optional, Sequence, Tuple

import numpy

# imported for their registrations, which the default config refers to
from ..errors import Errors


class Window:
    """One encoder input: [CLS] question [SEP] passage[p_first:p_first+n_ctx] [SEP]."""

    __slots__ = ("input_ids", "token_type_ids", "ctx_start", "p_first", "n_ctx", "offsets")

    def __init__(
        self, input_ids: List[int], token_type_ids: List[int], ctx_start: int,
        p_first: int, n_ctx: int, offsets: Sequence[Tuple[int, int]],
    ) -> None:
        self.input_ids = input_ids
        self.token_type_ids = token_type_ids
        self.ctx_start = ctx_start
        self.p_first = p_first
        self.n_ctx = n_ctx
        # character offsets of the whole passage's wordpieces (shared)
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.input_ids)

    def mask(self) -> numpy.ndarray:
        """Positions a start or end may point at: [CLS] and the passage part."""
        keep = numpy.zeros(len(self.input_ids), dtype=bool)
        keep[0] = True
        keep[self.ctx_start:self.ctx_start + self.n_ctx] = True
        return keep


def _find_context(ids: List[int], part: List[int], n_question: int) -> int:
    """Index of the passage part in a built pair (after [CLS] q [SEP] for BERT)."""
    guess = n_question + 2
    if ids[guess:guess + len(part)] == part:
        return guess
    for i in range(len(ids) - len(part) + 1):
        if i > n_question and ids[i:i + len(part)] == part:
            return i
    raise ValueError(Errors.E2404.format(what="the tokenizer's pair layout is not [CLS] question [SEP] passage [SEP]"))


def _gold_positions(window: Window, gold: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """Gold (start, end) wordpiece positions in a window; (0, 0) ([CLS]) when
    the window does not hold the whole answer (or there is none)."""
    if gold is None or window.n_ctx == 0:
        return 0, 0
    start_tok, end_tok = _char_span_to_pieces(window.offsets, gold)
    first, last = window.p_first, window.p_first + window.n_ctx
    if start_tok is None or end_tok is None or end_tok < start_tok:
        return 0, 0
    if start_tok < first or end_tok >= last:
        return 0, 0
    return window.ctx_start + start_tok - first, window.ctx_start + end_tok - first


def _char_span_to_pieces(
    offsets: Sequence[Tuple[int, int]], span: Tuple[int, int]
) -> Tuple[Optional[int], Optional[int]]:
    """First and last passage wordpiece overlapping a character span."""
    start_char, end_char = span
    starts = numpy.fromiter((o[0] for o in offsets), dtype="int64", count=len(offsets))
    ends = numpy.fromiter((o[1] for o in offsets), dtype="int64", count=len(offsets))
    after = numpy.nonzero(ends > start_char)[0]
    before = numpy.nonzero(starts < end_char)[0]
    if not len(after) or not len(before):
        return None, None
    return int(after[0]), int(before[-1])
