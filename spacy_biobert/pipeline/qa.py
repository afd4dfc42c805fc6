"""biobert_qa: BioBERT's extractive question answering as a spaCy component.

Predicts: for each question about a doc (the passage), the top-k answer spans
of the doc's text. As in BERT's SQuAD recipe, which BioBERT fine-tunes for
BioASQ, the question and a window of the passage are encoded as a text pair
(``[CLS] question [SEP] passage window [SEP]``) by the component's own
transformer, and one linear output layer gives a start and an end logit per
wordpiece (``spacy-biobert.SpanExtractor.v1``).
Requires: nothing but the doc's text, and the questions.
Assigns: ``doc._.answers``.

Questions come from ``doc._.questions`` (a list of str; None or [] means no
question). They can also be given per call, as the context of
``nlp.pipe(..., as_tuples=True)``::

    for doc, _ in nlp.pipe([(text, {"questions": ["What is X?"]})], as_tuples=True):
        doc._.answers

or set on a doc beforehand with ``set_questions(nlp.make_doc(text), [...])``.

``doc._.answers`` is a list with one plain dict per question, in question
order (an empty list when there is no question)::

    {"question": "What is X?",
     "answers": [{"text": "Y", "start_char": 10, "end_char": 11, "score": 0.83}, ...]}

``start_char``/``end_char`` are character offsets into ``doc.text`` (the text
is ``doc.text[start_char:end_char]``); the answers are the top ``top_k`` spans,
best first, one per distinct answer text. ``score`` depends on the
``probabilities`` setting:

- ``"nbest"`` (default; BioBERT's run_qa.py = BERT's run_squad.py
  ``write_predictions``, SQuAD v1.1 mode): the passage's n-best list is built
  from the top ``n_best_size`` start x top ``n_best_size`` end wordpieces of
  every window (valid spans only: inside the passage part, end >= start, at
  most ``max_answer_length`` wordpieces, the start wordpiece in its "max
  context" window), ranked by start logit + end logit, one span per distinct
  answer text, at most ``n_best_size`` of them; ``score`` is the softmax of
  start + end logit over that n-best list ([CLS] is not in it). The scores of
  the whole n-best list sum to 1 per question and passage (the ``top_k``
  shown sum to at most 1); this is the probability BioASQ pooling sums over a
  question's snippets.
- ``"product"`` (the earlier scoring): the window's softmax probability of
  the start wordpiece times that of the end wordpiece (softmaxes over [CLS]
  and the window's passage wordpieces), never renormalised; a text found in
  several spans or windows keeps its best score.
Records are plain data, so they survive ``DocBin(store_user_data=True)``,
``doc.to_bytes()`` and ``nlp.pipe(n_process=2)``; ``answer_spans(doc, i)``
turns the answers of question ``i`` into ``Span`` objects.

No answer. Windows that do not contain the gold answer are trained to point
at [CLS] (the Hugging Face SQuAD recipe). At prediction, with
``null_answer = true`` (the default), a question gets an empty answer list
when the null score of [CLS] beats the best span in every window, i.e. when
the smallest null score over the windows is higher than the best span score
(``"nbest"``: start + end logit, run_squad.py's SQuAD 2.0 rule with threshold
0; ``"product"``: start x end probability); with ``null_answer = false`` the
best spans are always returned (SQuAD v1.1 / BioASQ factoid evaluation).

Long passages are never cut. A passage longer than one window is split into
overlapping windows: each window holds ``max_length`` wordpieces in all
(question and special tokens included), and consecutive windows start
``doc_stride`` passage wordpieces apart (BERT's run_squad.py). Answers lie
inside the passage part of one window (never in the question part or across
a window boundary) and span at most ``max_answer_length`` wordpieces. A
question too long to leave room for any passage wordpiece raises an error
(E102); questions are never truncated.
"""

from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate
from thinc.types import Floats3d

# imported for their registrations, which the default config refers to
from .. import architectures, scorers  # noqa: F401
from ..errors import Errors
from ..extensions import ANSWERS_ATTR, QUESTIONS_ATTR, install_extensions
from ..util import own_encoder_model_config

DEFAULT_QA_MODEL = own_encoder_model_config("spacy-biobert.SpanExtractor.v1", 384)


@Language.factory(
    "biobert_qa",
    assigns=[f"doc._.{ANSWERS_ATTR}"],
    default_config={
        "model": DEFAULT_QA_MODEL,
        "top_k": 5,
        "max_answer_length": 30,
        "doc_stride": 128,
        "n_best_size": 20,
        "null_answer": True,
        "probabilities": "nbest",
        "window_batch_size": 16,
        "questions_attr": QUESTIONS_ATTR,
        "answers_attr": ANSWERS_ATTR,
        "scorer": {"@scorers": "spacy-biobert.qa_scorer.v1"},
    },
    default_score_weights={"qa_f1": 1.0, "qa_exact": 0.0},
)
def make_biobert_qa(
    nlp: Language,
    name: str,
    model: Model[Dict[str, Any], Floats3d],
    *,
    top_k: int = 5,
    max_answer_length: int = 30,
    doc_stride: int = 128,
    n_best_size: int = 20,
    null_answer: bool = True,
    probabilities: str = "nbest",
    window_batch_size: int = 16,
    questions_attr: str = QUESTIONS_ATTR,
    answers_attr: str = ANSWERS_ATTR,
    scorer: Optional[Callable] = None,
) -> "QuestionAnswerer":
    """Create a QuestionAnswerer (BERT's SQuAD span extractor).

    model (Model[Dict[str, Any], Floats3d]): encoded windows -> start/end logits.
    top_k (int): answers kept per question.
    max_answer_length (int): most wordpieces per answer.
    doc_stride (int): passage wordpieces between the starts of two windows.
    n_best_size (int): best spans considered per window (before merging).
    null_answer (bool): give no answer when [CLS] beats every span.
    probabilities (str): what an answer's score is: "nbest" (BioBERT's
        n-best softmax, the default) or "product" (start x end probability,
        the earlier scoring). Saved pipelines without the setting get the
        default.
    window_batch_size (int): windows per encoder call.
    questions_attr (str): the Doc._ attribute holding the questions.
    answers_attr (str): the Doc._ attribute for the answers.
    scorer (Optional[Callable]): the scoring method.
    """
    return QuestionAnswerer(
        nlp.vocab, model, name, top_k=top_k, max_answer_length=max_answer_length,
        doc_stride=doc_stride, n_best_size=n_best_size, null_answer=null_answer,
        probabilities=probabilities, window_batch_size=window_batch_size, questions_attr=questions_attr,
        answers_attr=answers_attr, scorer=scorer,
    )


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


# per doc, per question: the windows and their (length, 2) logits
QAScores = List[List[List[Tuple[Window, numpy.ndarray]]]]


class QuestionAnswerer(TrainablePipe):
    """Extractive question answering over a doc's text with start/end logits
    per wordpiece, as BioBERT does for BioASQ factoid questions (Lee et al.
    2020, after BERT's SQuAD recipe). See the module docstring for the
    question and answer attributes.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[Dict[str, Any], Floats3d],
        name: str = "biobert_qa",
        *,
        top_k: int = 5,
        max_answer_length: int = 30,
        doc_stride: int = 128,
        n_best_size: int = 20,
        null_answer: bool = True,
        probabilities: str = "nbest",
        window_batch_size: int = 16,
        questions_attr: str = QUESTIONS_ATTR,
        answers_attr: str = ANSWERS_ATTR,
        scorer: Optional[Callable] = None,
    ) -> None:
        for key, value in (
            ("top_k", top_k), ("max_answer_length", max_answer_length),
            ("doc_stride", doc_stride), ("n_best_size", n_best_size),
            ("window_batch_size", window_batch_size),
        ):
            if value < 1:
                raise ValueError(Errors.E103.format(what=f"{key} must be at least 1, got {value}"))
        _check_probabilities(probabilities)
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "top_k": top_k,
            "max_answer_length": max_answer_length,
            "doc_stride": doc_stride,
            "n_best_size": n_best_size,
            "null_answer": null_answer,
            "probabilities": probabilities,
            "window_batch_size": window_batch_size,
            "questions_attr": questions_attr,
            "answers_attr": answers_attr,
        }
        install_extensions(questions_attr=questions_attr, answers_attr=answers_attr)

    def predict(self, docs: Iterable[Doc]) -> QAScores:
        """Start/end logits of every window of every question of every doc.

        RETURNS (QAScores): per doc, per question, (window, logits) pairs;
            logits is a (window length, 2) array of start and end logits.
        """
        docs = list(docs)
        per_doc: List[List[List[Window]]] = []
        for doc in docs:
            questions = self.get_questions(doc)
            per_doc.append(self._windows(doc.text, questions) if questions else [])
        flat = [w for doc_windows in per_doc for q_windows in doc_windows for w in q_windows]
        logits = self._logits(flat)
        out: QAScores = []
        i = 0
        for doc_windows in per_doc:
            doc_out = []
            for q_windows in doc_windows:
                doc_out.append(list(zip(q_windows, logits[i:i + len(q_windows)])))
                i += len(q_windows)
            out.append(doc_out)
        return out

    def set_annotations(self, docs: Iterable[Doc], scores: QAScores) -> None:
        """Write one answer record per question to doc._.answers."""
        for doc, doc_scores in zip(docs, scores):
            questions = self.get_questions(doc)
            records = []
            for question, windows in zip(questions, doc_scores):
                records.append({"question": question, "answers": self._decode(doc.text, windows)})
            doc._.set(self.cfg["answers_attr"], records)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of Examples: cross-entropy of the gold start and
        end wordpieces of every window (windows without the whole gold answer
        point at [CLS]), averaged over start/end and over windows. The windows
        go through the encoder in chunks of window_batch_size; gradients
        accumulate over the chunks and the optimizer steps once.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "QuestionAnswerer.update")
        windows, golds = self._examples_to_truth(examples)
        if not windows:
            return losses
        set_dropout_rate(self.model, drop)
        size = self.cfg["window_batch_size"]
        loss = 0.0
        for start in range(0, len(windows), size):
            chunk = windows[start:start + size]
            logits, backprop = self.model.begin_update(self._batch(chunk))
            chunk_loss, d_logits = self._loss_and_grad(
                self.model.ops.to_numpy(logits), chunk, golds[start:start + size], len(windows)
            )
            loss += chunk_loss
            backprop(self.model.ops.asarray3f(d_logits))
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: QAScores) -> Tuple[float, List[numpy.ndarray]]:
        """Mean cross-entropy of the gold start/end positions, given predict's
        output for the examples' predicted docs.

        RETURNS (Tuple[float, List[numpy.ndarray]]): the loss and the gradient
            of each window's (length, 2) logits, in window order.
        """
        examples = list(examples)
        validate_examples(examples, "QuestionAnswerer.get_loss")
        windows: List[Window] = []
        golds: List[Tuple[int, int]] = []
        logits: List[numpy.ndarray] = []
        for eg, doc_scores in zip(examples, scores):
            spans = self._gold_spans(eg)
            for gold, q_scores in zip(spans, doc_scores):
                for window, window_logits in q_scores:
                    windows.append(window)
                    golds.append(_gold_positions(window, gold))
                    logits.append(window_logits)
        if not windows:
            return 0.0, []
        length = max(len(w) for w in windows)
        padded = numpy.zeros((len(windows), length, 2), dtype="float32")
        for i, row in enumerate(logits):
            padded[i, :len(row)] = row
        loss, grad = self._loss_and_grad(padded, windows, golds, len(windows))
        return loss, [grad[i, :len(w)] for i, w in enumerate(windows)]

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        init_model: Optional[str] = None,
    ) -> None:
        """Initialize for training: load the base model, or, with
        `init_model`, copy the weights of the QA component of a trained
        pipeline (the second stage of the paper's schedule: SQuAD first, then
        BioASQ; ``[initialize.components.qa] init_model = ${paths.init_model}``).

        get_examples (Callable[[], Iterable[Example]]): the training examples
            (only checked; the model needs no labels).
        init_model (Optional[str]): a pipeline folder or package whose
            biobert_qa weights (and tokenizer) to start from.
        """
        validate_get_examples(get_examples, "QuestionAnswerer.initialize")
        for eg in islice(get_examples(), 10):
            self._gold_spans(eg)  # fail early on malformed gold records
        if init_model:
            import spacy

            source = spacy.load(init_model)
            pipes = [p for _, p in source.pipeline if isinstance(p, QuestionAnswerer)]
            if not pipes:
                raise ValueError(Errors.E110.format(path=str(init_model)))
            self.model.from_bytes(pipes[0].model.to_bytes())
        else:
            self.model.initialize()

    def get_questions(self, doc: Doc) -> List[str]:
        """The questions of a doc: doc._.questions, else the "questions" key of
        the doc's nlp.pipe(as_tuples=True) context (then also stored on the doc).

        RETURNS (List[str]): the questions ([] if none).
        """
        attr = self.cfg["questions_attr"]
        questions = doc._.get(attr)
        if questions is None:
            context = getattr(doc, "_context", None)
            if isinstance(context, dict) and context.get(attr) is not None:
                questions = context[attr]
                doc._.set(attr, list(questions))
        if questions is None:
            return []
        if isinstance(questions, str) or not all(isinstance(q, str) for q in questions):
            raise ValueError(Errors.E104.format(attr=attr, value=questions))
        return list(questions)

    def _encoder(self) -> Model:
        return self.model.get_ref("encoder") if self.model.has_ref("encoder") else self.model.layers[0]

    def _tokenizer(self) -> Any:
        from ..pair_encoder import get_tokenizer

        tokenizer = get_tokenizer(self._encoder())
        if tokenizer is None:
            raise ValueError(Errors.E103.format(what=f"the '{self.name}' component is not initialized (no tokenizer); call nlp.initialize() first"))
        return tokenizer

    def _window_limit(self) -> Tuple[int, int]:
        from ..pair_encoder import max_wordpieces

        encoder = self._encoder()
        hf = encoder.layers[0].shims[0]._hfmodel
        model_max = int(getattr(hf.transformer.config, "max_position_embeddings", 512)) if hf.transformer is not None else 512
        return max_wordpieces(encoder), model_max

    def _windows(self, text: str, questions: List[str]) -> List[List[Window]]:
        """The windows of each question over a passage (tokenized once)."""
        tokenizer = self._tokenizer()
        limit, model_max = self._window_limit()
        # verbose=False: a passage longer than the model is expected here (it is windowed)
        passage = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        p_ids = list(passage["input_ids"])
        offsets = [tuple(o) for o in passage["offset_mapping"]]
        n_special = tokenizer.num_special_tokens_to_add(pair=True)
        q_all = tokenizer(questions, add_special_tokens=False)["input_ids"]
        out = []
        for question, q_ids in zip(questions, q_all):
            room = limit - len(q_ids) - n_special
            if room < 1:
                raise ValueError(Errors.E102.format(question=question[:80], n=len(q_ids), limit=limit, model_max=model_max))
            windows = []
            start = 0
            while True:
                length = min(room, len(p_ids) - start)
                part = p_ids[start:start + length]
                ids = tokenizer.build_inputs_with_special_tokens(list(q_ids), part)
                types = tokenizer.create_token_type_ids_from_sequences(list(q_ids), part)
                ctx_start = _find_context(ids, part, len(q_ids))
                windows.append(Window(ids, types, ctx_start, start, length, offsets))
                if start + length >= len(p_ids):
                    break
                start += min(length, self.cfg["doc_stride"])
            out.append(windows)
        return out

    def _batch(self, windows: List[Window]) -> Dict[str, numpy.ndarray]:
        length = max(len(w) for w in windows)
        pad = self._tokenizer().pad_token_id or 0
        ids = numpy.full((len(windows), length), pad, dtype="int64")
        types = numpy.zeros((len(windows), length), dtype="int64")
        mask = numpy.zeros((len(windows), length), dtype="int64")
        for i, w in enumerate(windows):
            ids[i, :len(w)] = w.input_ids
            types[i, :len(w)] = w.token_type_ids
            mask[i, :len(w)] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def _logits(self, windows: List[Window]) -> List[numpy.ndarray]:
        if not windows:
            return []
        size = self.cfg["window_batch_size"]
        # windows of similar length share a batch (less padding)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        out: List[numpy.ndarray] = [numpy.zeros((0, 2), dtype="float32")] * len(windows)
        for start in range(0, len(order), size):
            idx = order[start:start + size]
            chunk = [windows[i] for i in idx]
            logits = self.model.ops.to_numpy(self.model.predict(self._batch(chunk)))
            for i, row in zip(idx, logits):
                out[i] = row[:len(windows[i])]
        return out

    def _decode(
        self, text: str, windows: List[Tuple[Window, numpy.ndarray]], probabilities: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """The top_k answers of one question from its windows' logits, scored
        as `probabilities` says (default: the component's setting; see the
        module docstring), one per distinct answer text, best first."""
        mode = probabilities or self.cfg.get("probabilities", "nbest")
        _check_probabilities(mode)
        if mode == "nbest":
            answers, null_beats_best = _nbest_answers(
                text, windows, self.cfg["n_best_size"], self.cfg["max_answer_length"]
            )
        else:
            answers, null_beats_best = _product_answers(
                text, windows, self.cfg["n_best_size"], self.cfg["max_answer_length"]
            )
        if not answers or (self.cfg["null_answer"] and null_beats_best):
            return []
        return answers[: self.cfg["top_k"]]

    def _loss_and_grad(
        self, logits: numpy.ndarray, windows: List[Window], golds: List[Tuple[int, int]], n: int
    ) -> Tuple[float, numpy.ndarray]:
        grad = numpy.zeros_like(logits, dtype="float32")
        loss = 0.0
        for row, (window, (g_start, g_end)) in enumerate(zip(windows, golds)):
            length = len(window)
            mask = window.mask()
            for col, gold in ((0, g_start), (1, g_end)):
                x = numpy.where(mask, logits[row, :length, col], -numpy.inf)
                x = x - x.max()
                p = numpy.exp(x)
                p /= p.sum()
                loss += -float(numpy.log(max(p[gold], 1e-12))) / (2 * n)
                d = p.copy()
                d[gold] -= 1.0
                grad[row, :length, col] = d / (2 * n)
        return loss, grad

    def _gold_spans(self, eg: Example) -> List[Optional[Tuple[int, int]]]:
        """The first gold answer (start_char, end_char) of each question of an
        Example's reference doc (None: no answer)."""
        ref = eg.reference
        questions = self.get_questions(ref) or self.get_questions(eg.predicted)
        records = ref._.get(self.cfg["answers_attr"]) or []
        if len(records) != len(questions):
            raise ValueError(Errors.E107.format(n_answers=len(records), n_questions=len(questions), attr=self.cfg["answers_attr"]))
        spans: List[Optional[Tuple[int, int]]] = []
        for question, record in zip(questions, records):
            answers = _record_answers(record)
            if not answers:
                spans.append(None)
                continue
            start, end = int(answers[0]["start_char"]), int(answers[0]["end_char"])
            if not 0 <= start < end <= len(ref.text):
                raise ValueError(Errors.E106.format(text=answers[0].get("text"), question=question, start=start, end=end, length=len(ref.text)))
            spans.append((start, end))
        return spans

    def _examples_to_truth(self, examples: List[Example]) -> Tuple[List[Window], List[Tuple[int, int]]]:
        windows: List[Window] = []
        golds: List[Tuple[int, int]] = []
        for eg in examples:
            spans = self._gold_spans(eg)
            questions = self.get_questions(eg.reference) or self.get_questions(eg.predicted)
            if not questions:
                continue
            for q_windows, gold in zip(self._windows(eg.reference.text, questions), spans):
                for window in q_windows:
                    windows.append(window)
                    golds.append(_gold_positions(window, gold))
        return windows, golds


PROBABILITIES = ("nbest", "product")


def _check_probabilities(value: Any) -> None:
    if value not in PROBABILITIES:
        raise ValueError(Errors.E103.format(what=f"probabilities must be one of {', '.join(PROBABILITIES)}, got {value!r}"))


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


def _find_context(ids: List[int], part: List[int], n_question: int) -> int:
    """Index of the passage part in a built pair (after [CLS] q [SEP] for BERT)."""
    guess = n_question + 2
    if ids[guess:guess + len(part)] == part:
        return guess
    for i in range(len(ids) - len(part) + 1):
        if i > n_question and ids[i:i + len(part)] == part:
            return i
    raise ValueError(Errors.E103.format(what="the tokenizer's pair layout is not [CLS] question [SEP] passage [SEP]"))


def _masked_softmax(logits: numpy.ndarray, mask: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    out = []
    for col in (0, 1):
        x = numpy.where(mask, logits[:, col].astype("float64"), -numpy.inf)
        x = x - x.max()
        p = numpy.exp(x)
        out.append(p / p.sum())
    return out[0], out[1]


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


def _record_answers(record: Any) -> List[Dict[str, Any]]:
    if not isinstance(record, dict) or "answers" not in record:
        raise ValueError(Errors.E105.format(what="'answers'"))
    answers = list(record["answers"] or [])
    for answer in answers:
        if not isinstance(answer, dict) or "start_char" not in answer or "end_char" not in answer:
            raise ValueError(Errors.E105.format(what="'start_char'/'end_char' in an answer"))
    return answers


def set_questions(doc: Doc, questions: Sequence[str], *, attr: str = QUESTIONS_ATTR) -> Doc:
    """Set the questions biobert_qa will answer about a doc.

    doc (Doc): the passage, e.g. nlp.make_doc(text).
    questions (Sequence[str]): the questions.
    attr (str): the Doc._ attribute (the component's questions_attr).
    RETURNS (Doc): the same doc, for nlp(set_questions(nlp.make_doc(text), qs)).
    """
    install_extensions(questions_attr=attr)
    doc._.set(attr, [str(q) for q in questions])
    return doc


def answer_spans(
    doc: Doc, question: Union[int, Dict[str, Any]], *, attr: str = ANSWERS_ATTR
) -> List[Span]:
    """The answers to one question as Spans of `doc` (best first), from their
    character offsets (expanded to token boundaries).

    doc (Doc): the doc the answers belong to.
    question (Union[int, Dict[str, Any]]): the question's index in
        doc._.answers, or one of its records.
    attr (str): the Doc._ attribute holding the answers.
    RETURNS (List[Span]): one span per answer (answers made of whitespace only
        are left out).
    """
    if isinstance(question, int):
        records = doc._.get(attr) or []
        record = records[question]
    else:
        record = question
    spans = []
    for answer in _record_answers(record):
        span = doc.char_span(int(answer["start_char"]), int(answer["end_char"]), alignment_mode="expand")
        if span is not None and len(span):
            spans.append(span)
    return spans
