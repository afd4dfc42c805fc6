"""Span getters for spacy-transformers: bounded strided windows that never overflow the model."""

import warnings
from functools import partial
from typing import Callable, Iterable, List

from spacy.tokens import Doc, Span
from spacy_transformers.util import registry as trf_registry

from .errors import Errors, Warnings


def get_bounded_strided_spans(
    docs: Iterable[Doc], window: int, stride: int, max_chars: int
) -> List[List[Span]]:
    """Overlapping windows of at most `window` tokens and `max_chars` non-space
    characters, so that no window can exceed the model's maximum length.

    A WordPiece tokenizer never makes more pieces of a text than it has
    non-space characters, so a window of at most `max_chars` characters
    (model maximum minus the special tokens) is never truncated. Windows step by
    `stride / window` of their own length, so neighbours overlap and every token
    sees left and right context; every token lies in at least one window.
    """
    spans: List[List[Span]] = []
    for doc in docs:
        doc_spans: List[Span] = []
        lengths = [len(t.text) for t in doc]
        n = len(doc)
        start = 0
        while start < n:
            end = start
            chars = 0
            while end < n and end - start < window:
                if end > start and chars + lengths[end] > max_chars:
                    break
                chars += lengths[end]
                end += 1
            if end - start == 1 and lengths[start] > max_chars:
                warnings.warn(
                    Warnings.W2002.format(
                        i=start, text=doc[start].text[:20], n=lengths[start],
                        max_chars=max_chars,
                    ),
                    stacklevel=2,
                )
            doc_spans.append(doc[start:end])
            if end >= n:
                break
            step = max(1, ((end - start) * stride) // window)
            start += step
        spans.append(doc_spans)
    return spans


@trf_registry.span_getters("spacy-biobert.bounded_strided_spans.v1")
def configure_bounded_strided_spans(
    window: int = 128, stride: int = 96, max_chars: int = 500
) -> Callable[[Iterable[Doc]], List[List[Span]]]:
    """Span getter for spacy-transformers: overlapping windows that never
    overflow the model (see get_bounded_strided_spans).

    window (int): maximum tokens per window.
    stride (int): step between windows, in tokens, for a full window.
    max_chars (int): maximum non-space characters per window; keep it at or
        below the model's maximum length minus 2 (512 - 2 for BERT).
    """
    if not (0 < stride <= window) or max_chars <= 0:
        raise ValueError(
            Errors.E2005.format(window=window, stride=stride, max_chars=max_chars)
        )
    return partial(
        get_bounded_strided_spans, window=window, stride=stride, max_chars=max_chars
    )
