"""biobert_ner: the BioBERT NER head as a spaCy component.

Predicts: a softmax over BIO2 tags for every token, from the encoder's last
layer (through a spacy-transformers listener), decoded into valid entities.
Requires: token vectors from an upstream ``transformer`` component.
Assigns: ``doc.ents`` (replacing any earlier entities) and
``Span._.confidence`` on every entity.

Decoding. ``viterbi`` (default) finds the most probable tag sequence that is
valid IOB2 (no ``I-X`` after ``O`` or after another type); when the per-token
argmax is already valid it is that sequence. ``greedy`` takes the argmax and
reads an orphan ``I-X`` as the start of an entity, as conlleval does.

Confidence. ``ent._.confidence`` is the mean, over the entity's tokens, of the
probability the model gives to the tag chosen for that token (``B-X`` for the
first, ``I-X`` for the rest): a float in (0, 1].
"""

from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.errors import Errors as SpacyErrors
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..errors import Errors
from ..extensions import ENT_CONFIDENCE_ATTR, install_extensions
from ..losses import softmax_cross_entropy
from . import scorer as _scorer  # noqa: F401  (registers the scorer functions)
from .tags import iob_to_spans

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


@Language.factory(
    "biobert_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", f"span._.{ENT_CONFIDENCE_ATTR}"],
    default_config={
        "model": DEFAULT_NER_MODEL,
        "decoding": "viterbi",
        "confidence_attr": ENT_CONFIDENCE_ATTR,
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
    scorer: Optional[Callable] = None,
) -> "BioBertNER":
    """Create a BioBertNER component (the paper's token-classification NER).

    model (Model[List[Doc], List[Floats2d]]): gives tag probabilities per token.
    decoding (str): 'viterbi' (valid IOB2 only) or 'greedy'.
    confidence_attr (str): the Span._ attribute for entity confidence.
    scorer (Optional[Callable]): the scoring method.
    """
    return BioBertNER(
        nlp.vocab, model, name, decoding=decoding, confidence_attr=confidence_attr, scorer=scorer
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
        scorer: Optional[Callable] = None,
    ) -> None:
        if decoding not in DECODINGS:
            raise ValueError(Errors.E2205.format(decoding=decoding, name=name))
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": [], "decoding": decoding, "confidence_attr": confidence_attr,
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
        """Decode the tag probabilities into doc.ents and entity confidences."""
        tags = self.tags
        attr = self.cfg["confidence_attr"]
        decode = viterbi_decode if self.cfg["decoding"] == "viterbi" else greedy_decode
        allowed, start_allowed = transition_masks(tags)
        for doc, doc_scores in zip(docs, scores):
            probs = self.model.ops.to_numpy(doc_scores)
            if len(doc) == 0 or len(probs) == 0:
                doc.set_ents([], default="outside")
                continue
            best = decode(probs, allowed, start_allowed)
            doc_tags = [tags[i] for i in best]
            token_conf = probs[numpy.arange(len(best)), best]
            ents = []
            for start, end, label in iob_to_spans(doc_tags):
                ent = Span(doc, start, end, label=label)
                ents.append(ent)
            doc.set_ents(ents, default="outside")
            for ent in doc.ents:
                ent._.set(attr, float(token_conf[ent.start:ent.end].mean()))

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
                found.update(ent.label_ for ent in eg.reference.ents)
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
        biluo = eg.get_aligned_ner()
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
