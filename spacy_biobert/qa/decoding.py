"""Decoding QA answer spans from start/end logits, as BioBERT's run_squad write_predictions does."""

from typing import Any, Dict, List, Sequence, Tuple

import numpy

# imported for their registrations, which the default config refers to
from .windows import Window


def _best_indexes(logits: numpy.ndarray, n_best_size: int) -> List[int]:
    """Positions of the n_best_size highest logits, highest first (ties: the
    lower position first). Mirrors run_squad.py's ``_get_best_indexes``, which
    ranks every position of the window ([CLS] and the question included); the
    invalid ones are dropped afterwards."""
    order = numpy.argsort(-numpy.asarray(logits, dtype="float64"), kind="stable")
    return [int(i) for i in order[:n_best_size]]


def _is_max_context(spans: Sequence[Tuple[int, int]], index: int, position: int) -> bool:
    """Whether window `index` is the "max context" window of passage wordpiece
    `position`, as run_squad.py's ``_check_is_max_context`` defines it: among
    the windows (first passage wordpiece, number of passage wordpieces) that
    hold the wordpiece, the one with the largest min(left context, right
    context) + 0.01 x window length (the first such window on ties)."""
    best_score = None
    best_index = None
    for i, (first, length) in enumerate(spans):
        last = first + length - 1
        if position < first or position > last:
            continue
        score = min(position - first, last - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, i
    return best_index == index


def _nbest_softmax(scores: Sequence[float]) -> List[float]:
    """Softmax of raw scores (run_squad.py's ``_compute_softmax``)."""
    if not len(scores):
        return []
    x = numpy.asarray(scores, dtype="float64")
    e = numpy.exp(x - x.max())
    return [float(v) for v in e / e.sum()]


def _nbest_answers(
    text: str, windows: List[Tuple[Window, numpy.ndarray]], n_best_size: int, max_answer_length: int,
) -> Tuple[List[Dict[str, Any]], bool]:
    """The n-best answers of one question over one passage as BioBERT's
    run_qa.py (BERT's run_squad.py ``write_predictions``, SQuAD v1.1 mode)
    computes them, and whether the null score beats the best of them.

    RETURNS (Tuple[List[Dict[str, Any]], bool]): up to n_best_size answers,
        best first, one per distinct text, ``score`` = softmax of start +
        end logit over them; and whether min over windows of the [CLS] start
        + end logit is above the best answer's (SQuAD 2.0 rule, threshold 0).
    """
    spans = [(w.p_first, w.n_ctx) for w, _ in windows]
    prelim = []
    null_score = None
    for index, (window, logits) in enumerate(windows):
        logits = numpy.asarray(logits, dtype="float64")
        if len(logits):
            null = float(logits[0, 0] + logits[0, 1])
            null_score = null if null_score is None else min(null_score, null)
        if window.n_ctx == 0:
            continue
        first, last = window.ctx_start, window.ctx_start + window.n_ctx - 1
        # write_predictions: top-n starts x top-n ends of each window
        starts = _best_indexes(logits[:, 0], n_best_size)
        ends = _best_indexes(logits[:, 1], n_best_size)
        for s in starts:
            # start and end in the passage part (token_to_orig_map), the start
            # in its max-context window (token_is_max_context)
            if not first <= s <= last:
                continue
            if not _is_max_context(spans, index, window.p_first + s - first):
                continue
            for e in ends:
                if not first <= e <= last or e < s or e - s + 1 > max_answer_length:
                    continue
                prelim.append((float(logits[s, 0] + logits[e, 1]), index, s, e))
    # sorted by start_logit + end_logit, highest first (stable, as sorted())
    prelim.sort(key=lambda p: p[0], reverse=True)
    seen = set()
    nbest = []
    for total, index, s, e in prelim:
        if len(nbest) >= n_best_size:
            break
        window = windows[index][0]
        start_char = int(window.offsets[window.p_first + s - window.ctx_start][0])
        end_char = int(window.offsets[window.p_first + e - window.ctx_start][1])
        if end_char <= start_char:
            continue
        answer = text[start_char:end_char]
        # one candidate per distinct final text; the first (best) wins
        if answer in seen:
            continue
        seen.add(answer)
        nbest.append((answer, start_char, end_char, total))
    probs = _nbest_softmax([t for *_, t in nbest])
    answers = [
        {"text": a, "start_char": sc, "end_char": ec, "score": p}
        for (a, sc, ec, _), p in zip(nbest, probs)
    ]
    null_beats_best = bool(nbest) and null_score is not None and null_score > nbest[0][3]
    return answers, null_beats_best


def _product_answers(
    text: str, windows: List[Tuple[Window, numpy.ndarray]], n_best_size: int, max_answer_length: int,
) -> Tuple[List[Dict[str, Any]], bool]:
    """The earlier scoring ("product"): per window, the n_best_size spans
    with the highest start x end probability (softmaxes over [CLS] and the
    passage part), the best score per distinct text over all windows; and
    whether the smallest [CLS] start x end probability beats the best span."""
    best: Dict[str, Tuple[float, int, int]] = {}
    null_scores = []
    for window, logits in windows:
        p_start, p_end = _masked_softmax(logits, window.mask())
        null_scores.append(float(p_start[0] * p_end[0]))
        n = window.n_ctx
        if n == 0:
            continue
        cs = window.ctx_start
        grid = numpy.outer(p_start[cs:cs + n], p_end[cs:cs + n])
        # keep start <= end < start + max_answer_length
        grid = numpy.triu(grid) - numpy.triu(grid, k=max_answer_length)
        flat = grid.ravel()
        k = min(n_best_size, flat.size)
        top = numpy.argpartition(-flat, k - 1)[:k]
        for idx in top:
            score = float(flat[idx])
            if score <= 0.0:
                continue
            i, j = divmod(int(idx), n)
            start_char = int(window.offsets[window.p_first + i][0])
            end_char = int(window.offsets[window.p_first + j][1])
            if end_char <= start_char:
                continue
            answer = text[start_char:end_char]
            current = best.get(answer)
            if current is None or (score, -start_char) > (current[0], -current[1]):
                best[answer] = (score, start_char, end_char)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[1][2]))
    answers = [{"text": a, "start_char": sc, "end_char": ec, "score": score} for a, (score, sc, ec) in ranked]
    null_beats_best = bool(ranked) and bool(null_scores) and min(null_scores) > ranked[0][1][0]
    return answers, null_beats_best


def _masked_softmax(logits: numpy.ndarray, mask: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    out = []
    for col in (0, 1):
        x = numpy.where(mask, logits[:, col].astype("float64"), -numpy.inf)
        x = x - x.max()
        p = numpy.exp(x)
        out.append(p / p.sum())
    return out[0], out[1]
