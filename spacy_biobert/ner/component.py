"""biobert_ner: the BioBERT NER head as a spaCy component.

Predicts: a softmax over BIO2 tags for every token, from the encoder's last
layer (through a spacy-transformers listener), decoded into valid entities.
Requires: token vectors from an upstream ``transformer`` component.
Assigns: ``doc.ents`` (by default replacing any earlier entities), or the span
group ``doc.spans[spans_key]`` when ``spans_key`` is set, and
``Span._.confidence`` on every predicted entity.

Stacking. ``existing_ents`` says what happens to the entities already in the
target (``doc.ents``, or ``doc.spans[spans_key]``): ``replace`` (default, as
before) removes them all; ``keep`` keeps them and adds a prediction only where
it overlaps none of them (the entity ruler's ``overwrite_ents=False``);
``overwrite`` keeps the predictions and, of the earlier entities, those that
overlap no prediction (the entity ruler's ``overwrite_ents=True``). Overlap is
token overlap, whatever the labels. With ``spans_key`` set, ``doc.ents`` is
never touched; training reads the gold entities from
``eg.reference.spans[spans_key]`` when the reference has that group (overlapping
gold spans are reduced to the longest, as ``spacy.util.filter_spans`` does) and
from ``eg.reference.ents`` otherwise, and the scorer scores that group
(``spans_<key>_p/r/f/per_type``) instead of ``doc.ents``.

``spans_key`` and ``existing_ents`` are wiring, not learned state: they are read
from the pipeline config, so ``spacy.load(path, config=...)`` can change them on
a trained pipeline (a component's saved ``cfg`` does not override them).

Decoding. ``viterbi`` (default) finds the most probable tag sequence that is
valid IOB2 (no ``I-X`` after ``O`` or after another type); when the per-token
argmax is already valid it is that sequence. ``greedy`` takes the argmax and
reads an orphan ``I-X`` as the start of an entity, as conlleval does.

Invisible tokens. A predicted entity never starts or ends on a token that
shows nothing (whitespace, control and format characters: zero-width space,
BOM, soft hyphen, bidirectional marks; ``tags.is_invisible``): such tokens are
cut off its edges (a span of only such tokens is dropped), so its character
offsets are those of its first and last visible token. Inside an entity they
stay.

Confidence. ``ent._.confidence`` is the mean, over the entity's tokens, of the
probability the model gives to the tag chosen for that token (``B-X`` for the
first, ``I-X`` for the rest; the tokens kept after trimming): a float in (0, 1].
"""

from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.errors import Errors as SpacyErrors
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.pipeline.span_ruler import (
    prioritize_existing_ents_filter,
    prioritize_new_ents_filter,
)
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_get_examples
from spacy.util import filter_spans
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..errors import Errors
from ..extensions import ENT_CONFIDENCE_ATTR, install_extensions
from ..integrity import guard_pipeline
from ..losses import softmax_cross_entropy
from . import scorer as _scorer  # noqa: F401  (registers the scorer functions)
from .tags import iob_to_spans, trim_invisible

DEFAULT_NER_MODEL_STR = """
[model]
@architectures = "spacy-biobert.TokenClassifier.v2"
dropout = 0.1
init_std = 0.02

[model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""


DEFAULT_NER_MODEL = Config().from_str(DEFAULT_NER_MODEL_STR)["model"]


DECODINGS = ("viterbi", "greedy")
EXISTING_ENTS = ("replace", "keep", "overwrite")
# factory settings read from the pipeline config, never from a saved cfg
WIRING_SETTINGS = ("spans_key", "existing_ents")


@Language.factory(
    "biobert_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans", f"span._.{ENT_CONFIDENCE_ATTR}"],
    default_config={
        "model": DEFAULT_NER_MODEL,
        "decoding": "viterbi",
        "confidence_attr": ENT_CONFIDENCE_ATTR,
        "spans_key": None,
        "existing_ents": "replace",
        "scorer": {"@scorers": "spacy-biobert.seqeval_ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_biobert_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    *,
    decoding: str = "viterbi",
    confidence_attr: str = ENT_CONFIDENCE_ATTR,
    spans_key: Optional[str] = None,
    existing_ents: str = "replace",
    scorer: Optional[Callable] = None,
) -> "BioBertNER":
    """Create a BioBertNER component (the paper's token-classification NER).

    model (Model[List[Doc], List[Floats2d]]): gives tag probabilities per token.
    decoding (str): 'viterbi' (valid IOB2 only) or 'greedy'.
    confidence_attr (str): the Span._ attribute for entity confidence.
    spans_key (Optional[str]): write the entities to doc.spans[spans_key]
        instead of doc.ents (None: doc.ents).
    existing_ents (str): 'replace', 'keep' or 'overwrite' the entities already
        there (see the module docstring).
    scorer (Optional[Callable]): the scoring method.
    """
    guard_pipeline(nlp)  # checked loading, checksums on saving (spacy_biobert.integrity)
    return BioBertNER(
        nlp.vocab, model, name, decoding=decoding, confidence_attr=confidence_attr,
        spans_key=spans_key, existing_ents=existing_ents, scorer=scorer,
    )


class BioBertNER(TrainablePipe):
    """Token-classification NER (BIO2 softmax per token), as in BioBERT.

    The labels are entity types; the tags are 'O' and 'B-'/'I-' of each type.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "biobert_ner",
        *,
        decoding: str = "viterbi",
        confidence_attr: str = ENT_CONFIDENCE_ATTR,
        spans_key: Optional[str] = None,
        existing_ents: str = "replace",
        scorer: Optional[Callable] = None,
    ) -> None:
        if decoding not in DECODINGS:
            raise ValueError(Errors.E2205.format(decoding=decoding, name=name))
        if existing_ents not in EXISTING_ENTS:
            raise ValueError(Errors.E2230.format(value=existing_ents, name=name))
        if spans_key is not None and (not isinstance(spans_key, str) or not spans_key):
            raise ValueError(Errors.E2231.format(value=spans_key, name=name))
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": [], "decoding": decoding, "confidence_attr": confidence_attr,
            "spans_key": spans_key, "existing_ents": existing_ents,
        }
        install_extensions(confidence_attr)

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str]): the entity types."""
        return tuple(self.cfg["labels"])

    @property
    def tags(self) -> List[str]:
        """RETURNS (List[str]): the BIO2 tags, 'O' first."""
        tags = ["O"]
        for label in self.labels:
            tags.extend([f"B-{label}", f"I-{label}"])
        return tags

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add an entity type. RETURNS (int): 0 if it was there already, else 1."""
        if not isinstance(label, str):
            raise ValueError("label must be a str")
        if label in self.cfg["labels"]:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Tag probabilities for each token of each doc.

        RETURNS (List[Floats2d]): one (n_tokens, n_tags) array per doc.
        """
        docs = list(docs)
        if not self.labels:
            raise ValueError(SpacyErrors.E109.format(name=self.name))
        n_tags = len(self.tags)
        if not any(len(doc) for doc in docs):
            return [self.model.ops.alloc2f(0, n_tags) for _ in docs]
        scores = self.model.predict(docs)
        for s in scores:
            if len(s) and s.shape[1] != n_tags:
                raise ValueError(Errors.E2206.format(name=self.name, n_tags=n_tags, width=s.shape[1]))
        return scores

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Decode the tag probabilities into entities with confidences, and
        write them to doc.ents or doc.spans[spans_key] (see existing_ents)."""
        tags = self.tags
        attr = self.cfg["confidence_attr"]
        decode = viterbi_decode if self.cfg["decoding"] == "viterbi" else greedy_decode
        allowed, start_allowed = transition_masks(tags)
        for doc, doc_scores in zip(docs, scores):
            probs = self.model.ops.to_numpy(doc_scores)
            ents = []
            confidences = {}
            if len(doc) and len(probs):
                best = decode(probs, allowed, start_allowed)
                token_conf = probs[numpy.arange(len(best)), best]
                texts = [token.text for token in doc]
                for start, end, label in trim_invisible(iob_to_spans([tags[i] for i in best]), texts):
                    ents.append(Span(doc, start, end, label=label))
                    confidences[(start, end)] = float(token_conf[start:end].mean())
            predicted = {id(ent) for ent in ents}
            for ent in self._write(doc, ents):
                if id(ent) in predicted:  # not on the entities kept from before
                    ent._.set(attr, confidences[(ent.start, ent.end)])

    def _write(self, doc: Doc, predicted: List[Span]) -> List[Span]:
        """Put the predicted entities into the target, by existing_ents.
        RETURNS (List[Span]): the entities now in the target."""
        key = self.cfg.get("spans_key")
        mode = self.cfg.get("existing_ents", "replace")
        if key is None:
            existing: List[Span] = list(doc.ents)
        else:
            existing = list(doc.spans[key]) if key in doc.spans else []
        if mode == "keep":
            spans = prioritize_existing_ents_filter(existing, predicted)
        elif mode == "overwrite":
            spans = prioritize_new_ents_filter(existing, predicted)
        else:
            spans = predicted
        spans = sorted(spans, key=lambda span: (span.start, span.end))
        if key is None:
            doc.set_ents(spans, default="outside")
        else:
            doc.spans[key] = spans
        return spans

    def _reference_ents(self, eg: Example) -> Iterable[Span]:
        """The gold entities: the reference's spans_key group if it has one, else its ents."""
        key = self.cfg.get("spans_key")
        if key is not None and key in eg.reference.spans:
            return eg.reference.spans[key]
        return eg.reference.ents

    def _aligned_ner(self, eg: Example) -> List[Optional[str]]:
        """Gold BILUO tags on the predicted tokens (see _reference_ents)."""
        key = self.cfg.get("spans_key")
        if key is None or key not in eg.reference.spans:
            return eg.get_aligned_ner()
        ref = eg.reference.copy()
        group = [Span(ref, s.start, s.end, label=s.label) for s in eg.reference.spans[key]]
        ref.set_ents(filter_spans(group), default="outside")
        return Example(eg.predicted, ref).get_aligned_ner()

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "BioBertNER":
        """Load the component; the wiring settings stay those of the config."""
        wiring = {k: self.cfg.get(k) for k in WIRING_SETTINGS}
        super().from_disk(path, exclude=exclude)
        self.cfg.update(wiring)
        return self

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "BioBertNER":
        """Load the component; the wiring settings stay those of the config."""
        wiring = {k: self.cfg.get(k) for k in WIRING_SETTINGS}
        super().from_bytes(bytes_data, exclude=exclude)
        self.cfg.update(wiring)
        return self

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """Cross-entropy of the gold BIO2 tags, averaged over the tokens whose
        gold tag is known (misaligned or missing tokens get no gradient)."""
        validate_examples(examples, "BioBertNER.get_loss")
        tag_index = {tag: i for i, tag in enumerate(self.tags)}
        golds = [self._gold_tag_ids(eg, tag_index) for eg in examples]
        n = max(sum(int((gold >= 0).sum()) for gold in golds), 1)
        d_scores = []
        loss = 0.0
        for gold, probs in zip(golds, scores):
            doc_loss, d = softmax_cross_entropy(self.model.ops.to_numpy(probs), gold, normalizer=n)
            loss += doc_loss
            d_scores.append(self.model.ops.asarray2f(d))
        return loss, d_scores

    def initialize(
        self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Initialize for training: labels from `labels` (e.g. the output of
        `spacy init labels`) or from the examples' entities, then the model.
        """
        validate_get_examples(get_examples, "BioBertNER.initialize")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            found = set()
            n_examples = 0
            for eg in get_examples():
                n_examples += 1
                found.update(ent.label_ for ent in self._reference_ents(eg))
            if n_examples == 0:
                raise ValueError(Errors.E2212.format(name=self.name))
            for label in sorted(found):
                self.add_label(label)
        if not self.labels:
            raise ValueError(Errors.E2204.format(name=self.name))
        self.model.set_dim("nO", len(self.tags))
        doc_sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def _gold_tag_ids(self, eg: Example, tag_index: Dict[str, int]) -> numpy.ndarray:
        biluo = self._aligned_ner(eg)
        ids = numpy.full(len(biluo), -1, dtype="int64")
        for i, tag in enumerate(biluo):
            if tag is None or tag == "-":
                continue
            if tag == "O":
                ids[i] = 0
                continue
            prefix, label = tag.split("-", 1)
            bio = ("B-" if prefix in ("B", "U") else "I-") + label
            ids[i] = tag_index.get(bio, -1)
        return ids


def validate_examples(examples: Iterable[Example], method: str) -> None:
    from spacy.training import validate_examples as _validate

    _validate(examples, method)


def transition_masks(tags: List[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Which tag may follow which in IOB2: I-X only after B-X or I-X."""
    n = len(tags)
    allowed = numpy.ones((n, n), dtype=bool)
    start_allowed = numpy.ones(n, dtype=bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            label = tag[2:]
            start_allowed[j] = False
            for i, prev in enumerate(tags):
                allowed[i, j] = prev in (f"B-{label}", f"I-{label}")
    return allowed, start_allowed


def greedy_decode(probs: numpy.ndarray, allowed: numpy.ndarray, start_allowed: numpy.ndarray) -> numpy.ndarray:
    """Per-token argmax (orphan I- tags are read as entity starts later)."""
    return probs.argmax(axis=1)


def viterbi_decode(probs: numpy.ndarray, allowed: numpy.ndarray, start_allowed: numpy.ndarray) -> numpy.ndarray:
    """The most probable valid IOB2 tag sequence under per-token probabilities."""
    best = probs.argmax(axis=1)
    if start_allowed[best[0]] and allowed[best[:-1], best[1:]].all():
        return best
    logp = numpy.log(numpy.clip(probs, 1e-12, None))
    trans = numpy.where(allowed, 0.0, -numpy.inf)
    n, t = logp.shape
    score = numpy.where(start_allowed, logp[0], -numpy.inf)
    back = numpy.zeros((n, t), dtype="int64")
    for i in range(1, n):
        cand = score[:, None] + trans
        back[i] = cand.argmax(axis=0)
        score = cand[back[i], numpy.arange(t)] + logp[i]
    path = numpy.zeros(n, dtype="int64")
    path[-1] = int(score.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path
