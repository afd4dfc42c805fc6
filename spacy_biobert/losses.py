"""The one softmax cross-entropy of the components (foundation layer: numpy only).

``biobert_ner`` (one gold BIO2 tag per token), ``biobert_relation_extractor``
(one gold class per candidate pair) and ``biobert_qa`` (one gold start and one
gold end wordpiece per window, over the positions an answer may take) all
train on the same loss: the mean negative log-probability of a gold class per
row, whose gradient with respect to the row's logits is ``p - onehot(gold)``.
"""

from typing import Optional, Tuple

import numpy

# the probability of a gold class is clipped to this before its log
MIN_PROB = 1e-12


def softmax_cross_entropy(
    scores: numpy.ndarray,
    gold: numpy.ndarray,
    *,
    normalizer: Optional[float] = None,
    mask: Optional[numpy.ndarray] = None,
    from_logits: bool = False,
) -> Tuple[float, numpy.ndarray]:
    """Cross-entropy of one gold class per row, and its gradient with respect
    to the rows' logits.

    scores (numpy.ndarray): (n_rows, n_classes) probabilities (each row
        already a softmax, as the NER and relation models output), or logits
        with `from_logits=True` (the softmax is taken here, over the row's
        classes allowed by `mask`).
    gold (numpy.ndarray): (n_rows,) gold class indices; -1 marks a row with no
        target: no loss and a zero gradient.
    normalizer (Optional[float]): the loss and gradient are divided by it
        (e.g. the number of targets of a whole batch when the rows are one
        chunk of it); default: the number of rows with a target, at least 1.
    mask (Optional[numpy.ndarray]): (n_rows, n_classes) bool, the classes a
        row's softmax runs over (only with `from_logits`); the others get
        probability 0 and no gradient.
    from_logits (bool): whether `scores` are logits.
    RETURNS (Tuple[float, numpy.ndarray]): the loss (sum over the rows with a
        target of -log p(gold), p clipped at 1e-12, divided by the
        normalizer) and the (n_rows, n_classes) gradient (p - onehot(gold),
        zero on rows without a target, divided by the normalizer).
    """
    gold = numpy.asarray(gold, dtype="int64").reshape(-1)
    if from_logits:
        x = scores if mask is None else numpy.where(mask, scores, -numpy.inf)
        x = x - x.max(axis=-1, keepdims=True)
        probs = numpy.exp(x)
        probs /= probs.sum(axis=-1, keepdims=True)
    else:
        probs = scores
    rows = numpy.nonzero(gold >= 0)[0]
    if normalizer is None:
        normalizer = max(len(rows), 1)
    d = numpy.array(probs, copy=True)
    d[rows, gold[rows]] -= 1.0
    d[gold < 0] = 0.0
    loss = float(-numpy.log(numpy.clip(probs[rows, gold[rows]], MIN_PROB, None)).sum()) / normalizer
    return loss, d / normalizer
