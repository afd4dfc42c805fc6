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
``doc.to_bytes()`` and ``nlp.pipe(n_process=2)`` equal, as lists and dicts
(``spacy_biobert.extensions``); ``answer_spans(doc, i)``
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
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats3d

# imported for their registrations, which the default config refers to
from .. import architectures  # noqa: F401  (registers the architectures)
from ..base_model import own_encoder_model_config
from ..encoder_pipe import EncoderPipe
from ..errors import Errors
from ..extensions import ANSWERS_ATTR, QUESTIONS_ATTR, install_extensions
from ..integrity import guard_pipeline
from ..losses import softmax_cross_entropy
from . import scorer as _scorer  # noqa: F401  (registers the scorer functions)
from .decoding import _nbest_answers, _product_answers
from .windows import Window, _find_context, _gold_positions

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
    guard_pipeline(nlp)  # checked loading, checksums on saving (spacy_biobert.integrity)
    return QuestionAnswerer(
        nlp.vocab, model, name, top_k=top_k, max_answer_length=max_answer_length,
        doc_stride=doc_stride, n_best_size=n_best_size, null_answer=null_answer,
        probabilities=probabilities, window_batch_size=window_batch_size, questions_attr=questions_attr,
        answers_attr=answers_attr, scorer=scorer,
    )


# per doc, per question: the windows and their (length, 2) logits
QAScores = List[List[List[Tuple[Window, numpy.ndarray]]]]


class QuestionAnswerer(EncoderPipe):
    """Extractive question answering over a doc's text with start/end logits
    per wordpiece, as BioBERT does for BioASQ factoid questions (Lee et al.
    2020, after BERT's SQuAD recipe). See the module docstring for the
    question and answer attributes.
    """

    chunk_size_key = "window_batch_size"

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
                raise ValueError(Errors.E2404.format(what=f"{key} must be at least 1, got {value}"))
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

    def get_loss(
        self,
        examples: Iterable[Example],
        scores: Any,
        *,
        gold: Optional[Tuple[List[Window], numpy.ndarray]] = None,
        normalizer: Optional[int] = None,
    ) -> Tuple[float, Any]:
        """Cross-entropy of the gold start and end wordpieces of every window
        (windows without the whole gold answer point at [CLS]), averaged over
        start/end and over windows: losses.softmax_cross_entropy of the
        logits, the softmax running over [CLS] and the window's passage part.

        examples (Iterable[Example]): the batch.
        scores: predict's output for the examples' predicted docs; in update,
            one chunk's (n_windows, length, 2) logits.
        gold: in update, the chunk's windows and (n_windows, 2) gold positions.
        normalizer (Optional[int]): in update, the batch's number of gold
            positions (2 per window); default: those of `scores`.
        RETURNS (Tuple[float, Any]): the loss and the gradient of the logits:
            for predict's output a list with each window's (length, 2) array,
            in window order; in update, one array shaped as the chunk's logits.
        """
        if gold is not None:
            windows, positions = gold
            loss, grad = self._window_loss(self.model.ops.to_numpy(scores), windows, positions, normalizer)
            return loss, self.model.ops.asarray3f(grad)
        examples = list(examples)
        validate_examples(examples, "QuestionAnswerer.get_loss")
        windows = []
        golds: List[Tuple[int, int]] = []
        logits: List[numpy.ndarray] = []
        for eg, doc_scores in zip(examples, scores):
            spans = self._gold_spans(eg)
            for span, q_scores in zip(spans, doc_scores):
                for window, window_logits in q_scores:
                    windows.append(window)
                    golds.append(_gold_positions(window, span))
                    logits.append(window_logits)
        if not windows:
            return 0.0, []
        length = max(len(w) for w in windows)
        padded = numpy.zeros((len(windows), length, 2), dtype="float32")
        for i, row in enumerate(logits):
            padded[i, :len(row)] = row
        loss, grad = self._window_loss(padded, windows, numpy.asarray(golds, dtype="int64"), normalizer)
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
                raise ValueError(Errors.E2409.format(path=str(init_model)))
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
            raise ValueError(Errors.E2405.format(attr=attr, value=questions))
        return list(questions)

    def _tokenizer(self) -> Any:
        from ..layers.pair_encoder import get_tokenizer

        tokenizer = get_tokenizer(self._encoder())
        if tokenizer is None:
            raise ValueError(Errors.E2404.format(what=f"the '{self.name}' component is not initialized (no tokenizer); call nlp.initialize() first"))
        return tokenizer

    def _window_limit(self) -> Tuple[int, int]:
        from ..layers.hf import hf_transformer
        from ..layers.pair_encoder import max_wordpieces

        encoder = self._encoder()
        transformer = hf_transformer(encoder)
        model_max = int(getattr(transformer.config, "max_position_embeddings", 512)) if transformer is not None else 512
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
                raise ValueError(Errors.E2403.format(question=question[:80], n=len(q_ids), limit=limit, model_max=model_max))
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

    @staticmethod
    def _window_loss(
        logits: numpy.ndarray, windows: Sequence[Window], gold: numpy.ndarray, normalizer: Optional[int]
    ) -> Tuple[float, numpy.ndarray]:
        """The loss of (n_windows, length, 2) logits: one softmax cross-entropy
        row per window and start/end (in that order), over the window's mask."""
        n, length, _ = logits.shape
        mask = numpy.zeros((n, length), dtype=bool)
        for i, window in enumerate(windows):
            mask[i, :len(window)] = window.mask()
        rows = logits.transpose(0, 2, 1).reshape(2 * n, length)
        loss, d = softmax_cross_entropy(
            rows, gold.reshape(-1), normalizer=normalizer, mask=numpy.repeat(mask, 2, axis=0), from_logits=True,
        )
        return loss, d.reshape(n, 2, length).transpose(0, 2, 1).astype("float32")

    def _gold_spans(self, eg: Example) -> List[Optional[Tuple[int, int]]]:
        """The first gold answer (start_char, end_char) of each question of an
        Example's reference doc (None: no answer)."""
        ref = eg.reference
        questions = self.get_questions(ref) or self.get_questions(eg.predicted)
        records = ref._.get(self.cfg["answers_attr"]) or []
        if len(records) != len(questions):
            raise ValueError(Errors.E2408.format(n_answers=len(records), n_questions=len(questions), attr=self.cfg["answers_attr"]))
        spans: List[Optional[Tuple[int, int]]] = []
        for question, record in zip(questions, records):
            answers = _record_answers(record)
            if not answers:
                spans.append(None)
                continue
            start, end = int(answers[0]["start_char"]), int(answers[0]["end_char"])
            if not 0 <= start < end <= len(ref.text):
                raise ValueError(Errors.E2407.format(text=answers[0].get("text"), question=question, start=start, end=end, length=len(ref.text)))
            spans.append((start, end))
        return spans

    def _truth(self, examples: List[Example]) -> Tuple[List[Window], numpy.ndarray]:
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
        return windows, numpy.asarray(golds, dtype="int64").reshape(-1, 2)

    def _chunk_inputs(self, windows: Sequence[Window]) -> Dict[str, numpy.ndarray]:
        return self._batch(list(windows))

PROBABILITIES = ("nbest", "product")


def _check_probabilities(value: Any) -> None:
    if value not in PROBABILITIES:
        raise ValueError(Errors.E2404.format(what=f"probabilities must be one of {', '.join(PROBABILITIES)}, got {value!r}"))


def _record_answers(record: Any) -> List[Dict[str, Any]]:
    if not isinstance(record, dict) or "answers" not in record:
        raise ValueError(Errors.E2406.format(what="'answers'"))
    answers = list(record["answers"] or [])
    for answer in answers:
        if not isinstance(answer, dict) or "start_char" not in answer or "end_char" not in answer:
            raise ValueError(Errors.E2406.format(what="'start_char'/'end_char' in an answer"))
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
