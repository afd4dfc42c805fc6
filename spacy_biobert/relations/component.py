"""biobert_relation_extractor: BioBERT's relation classification as a spaCy component.

Predicts: for each candidate pair of entities (by default: pairs of
``doc.ents`` inside one sentence whose labels match the configured type
pairs, ``spacy-biobert.sentence_pairs.v1``), a softmax over the relation labels
plus a "no relation" class. As in the paper, the pair's sentence is rewritten
with the two mentions replaced by tags (``@CHEMICAL$``, ``@GENE$``;
configurable per entity label), encoded by the component's own transformer,
and classified from the [CLS] vector by one output layer
(``spacy-biobert.PairClassifier.v1``).
Requires: ``doc.ents`` (and ``doc.sents`` if sentences are wanted as contexts).
Assigns: ``doc._.relations``.

``doc._.relations`` is a list of plain dicts, one per pair predicted with a
label other than the no-relation label (pairs predicted as "no relation" are
not listed; pairs that got no prediction, see below, neither)::

    {"head": {"start": 0, "end": 1, "start_char": 0, "end_char": 7, "label": "CHEMICAL"},
     "tail": {"start": 4, "end": 5, "start_char": 20, "end_char": 24, "label": "GENE-Y"},
     "label": "CPR:4", "score": 0.91,
     "scores": {"false": 0.05, "CPR:3": 0.01, "CPR:4": 0.91, ...}}

``start``/``end`` are token offsets, ``start_char``/``end_char`` character
offsets into ``doc.text``; ``scores`` has every class, the no-relation label
included. Records are plain data, so they survive ``DocBin(store_user_data=True)``,
``doc.to_bytes()`` and ``nlp.pipe(n_process=2)`` equal, as lists and dicts
(``spacy_biobert.extensions``); ``relation_spans(doc, record)``
turns a record back into two ``Span`` objects. Gold relations for training go
into the reference docs' ``doc._.relations`` in the same form (only ``head``,
``tail`` and ``label`` are read, matched by character offsets); a reference doc
whose attribute is unset (None) or empty has no relation: all its candidates
are "no relation".

Long sentences are never cut silently. A marked sentence longer than the
encoder's limit (512 wordpieces for BERT, or the architecture's ``max_length``)
is windowed: the tokens from the first to the last mention are kept and
context tokens of the sentence are added on both sides, alternately, as long
as the text fits.
Only when the two mentions alone are too far apart does the pair get no
prediction, with warning W011 naming the doc and the mentions.

Many entities. A sentence with n entities has up to n*(n-1) candidates. At
most ``max_pairs_per_sentence`` are classified per sentence, those whose
mentions are closest (in tokens); warning W010 names the doc and sentence when
pairs are dropped.
"""

import warnings
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.errors import Errors as SpacyErrors
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import SimpleFrozenDict
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

# imported for their registrations, which the default config refers to
from .. import architectures  # noqa: F401  (registers the architectures)
from ..base_model import own_encoder_model_config
from ..encoder_pipe import EncoderPipe
from ..errors import Errors, Warnings
from ..extensions import RELATIONS_ATTR, install_extensions
from ..integrity import guard_pipeline
from ..losses import softmax_cross_entropy
from . import scorer as _scorer  # noqa: F401  (registers the scorer functions)
from .candidates import CandidateGetterT, PairCandidate
from .marking import (
    CHEM_GENE_TAG,
    CHEMICAL_TAG,
    GENE_TAG,
    NEGATIVE_LABEL,
    mark_entities,
)

DEFAULT_REL_MODEL = own_encoder_model_config("spacy-biobert.PairClassifier.v1", 512, nO=None)


DEFAULT_TAGS = {"CHEMICAL": CHEMICAL_TAG, "GENE-Y": GENE_TAG, "GENE-N": GENE_TAG, "GENE": GENE_TAG}


# (head start_char, head end_char, tail start_char, tail end_char)
PairKey = Tuple[int, int, int, int]


@Language.factory(
    "biobert_relation_extractor",
    requires=["doc.ents", "token.ent_iob", "token.ent_type"],
    assigns=[f"doc._.{RELATIONS_ATTR}"],
    default_config={
        "model": DEFAULT_REL_MODEL,
        "candidates": {"@misc": "spacy-biobert.sentence_pairs.v1"},
        "no_relation_label": NEGATIVE_LABEL,
        "tags": DEFAULT_TAGS,
        "overlap_tag": CHEM_GENE_TAG,
        "max_pairs_per_sentence": 100,
        "pair_batch_size": 64,
        "relations_attr": RELATIONS_ATTR,
        "scorer": {"@scorers": "spacy-biobert.relation_scorer.v1"},
    },
    default_score_weights={
        "rel_micro_f": 1.0, "rel_micro_p": 0.0, "rel_micro_r": 0.0, "rel_per_type": None,
    },
)
def make_biobert_relation_extractor(
    nlp: Language,
    name: str,
    model: Model[List[str], Floats2d],
    *,
    candidates: CandidateGetterT,
    no_relation_label: str = NEGATIVE_LABEL,
    tags: Dict[str, str] = SimpleFrozenDict(DEFAULT_TAGS),
    overlap_tag: str = CHEM_GENE_TAG,
    max_pairs_per_sentence: int = 100,
    pair_batch_size: int = 64,
    relations_attr: str = RELATIONS_ATTR,
    scorer: Optional[Callable] = None,
) -> "RelationExtractor":
    """Create a RelationExtractor (BioBERT's [CLS] relation classifier).

    model (Model[List[str], Floats2d]): marked sentences -> class probabilities.
    candidates (Callable[[Doc], List[PairCandidate]]): the candidate pairs.
    no_relation_label (str): the class of pairs with no relation (class 0).
    tags (Dict[str, str]): entity label -> the tag replacing its mentions;
        labels not listed get '@<label>$'.
    overlap_tag (str): the one tag replacing two overlapping mentions.
    max_pairs_per_sentence (int): cap on classified pairs per context.
    pair_batch_size (int): pairs per encoder call.
    relations_attr (str): the Doc._ attribute for relations.
    scorer (Optional[Callable]): the scoring method.
    """
    guard_pipeline(nlp)  # checked loading, checksums on saving (spacy_biobert.integrity)
    return RelationExtractor(
        nlp.vocab, model, name, candidates=candidates, no_relation_label=no_relation_label,
        tags=tags, overlap_tag=overlap_tag, max_pairs_per_sentence=max_pairs_per_sentence,
        pair_batch_size=pair_batch_size, relations_attr=relations_attr, scorer=scorer,
    )


class PairInstance:
    """A candidate pair ready for the encoder: its text (marked, maybe windowed)."""

    __slots__ = ("head", "tail", "context", "text")

    def __init__(self, head: Span, tail: Span, context: Span, text: str) -> None:
        self.head = head
        self.tail = tail
        self.context = context
        self.text = text

    @property
    def key(self) -> PairKey:
        return (self.head.start_char, self.head.end_char, self.tail.start_char, self.tail.end_char)


class RelationExtractor(EncoderPipe):
    """Relation classification of entity pairs from the [CLS] vector, as in
    BioBERT (Lee et al. 2020). Classes: the no-relation label (index 0), then
    the relation labels in cfg["labels"].
    """

    chunk_size_key = "pair_batch_size"

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[str], Floats2d],
        name: str = "biobert_relation_extractor",
        *,
        candidates: CandidateGetterT,
        no_relation_label: str = NEGATIVE_LABEL,
        tags: Dict[str, str] = SimpleFrozenDict(DEFAULT_TAGS),
        overlap_tag: str = CHEM_GENE_TAG,
        max_pairs_per_sentence: int = 100,
        pair_batch_size: int = 64,
        relations_attr: str = RELATIONS_ATTR,
        scorer: Optional[Callable] = None,
    ) -> None:
        if max_pairs_per_sentence < 1 or pair_batch_size < 1:
            raise ValueError(Errors.E2317.format(cap=max_pairs_per_sentence, batch=pair_batch_size))
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.candidates = candidates
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "no_relation_label": no_relation_label,
            "tags": dict(tags),
            "overlap_tag": overlap_tag,
            "max_pairs_per_sentence": max_pairs_per_sentence,
            "pair_batch_size": pair_batch_size,
            "relations_attr": relations_attr,
        }
        install_extensions(relations_attr=relations_attr)

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str]): the relation labels (no-relation label excluded)."""
        return tuple(self.cfg["labels"])

    @property
    def classes(self) -> List[str]:
        """RETURNS (List[str]): the output classes, the no-relation label first."""
        return [self.cfg["no_relation_label"]] + list(self.labels)

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add a relation label. RETURNS (int): 0 if it was there already, else 1."""
        if not isinstance(label, str):
            raise ValueError(SpacyErrors.E187)
        if label == self.cfg["no_relation_label"]:
            raise ValueError(Errors.E2316.format(label=label, name=self.name))
        if label in self.cfg["labels"]:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> List[Tuple[List[PairInstance], Floats2d]]:
        """Class probabilities of every candidate pair of every doc.

        RETURNS (List[Tuple[List[PairInstance], Floats2d]]): per doc, its
            instances and an (n_instances, n_classes) array.
        """
        docs = list(docs)
        if not self.labels:
            raise ValueError(SpacyErrors.E109.format(name=self.name))
        per_doc = [self._instances(doc) for doc in docs]
        flat = [inst for insts in per_doc for inst in insts]
        probs = self._classify([inst.text for inst in flat])
        out = []
        i = 0
        for insts in per_doc:
            out.append((insts, probs[i:i + len(insts)]))
            i += len(insts)
        return out

    def set_annotations(
        self, docs: Iterable[Doc], scores: List[Tuple[List[PairInstance], Floats2d]]
    ) -> None:
        """Write the pairs predicted with a relation label to doc._.relations."""
        classes = self.classes
        attr = self.cfg["relations_attr"]
        for doc, (instances, probs) in zip(docs, scores):
            probs = self.model.ops.to_numpy(probs)
            records = []
            for inst, row in zip(instances, probs):
                best = int(row.argmax())
                if best == 0:
                    continue
                records.append({
                    "head": _span_record(inst.head),
                    "tail": _span_record(inst.tail),
                    "label": classes[best],
                    "score": float(row[best]),
                    "scores": {c: float(p) for c, p in zip(classes, row)},
                })
            doc._.set(attr, records)

    def get_loss(
        self,
        examples: Iterable[Example],
        scores: Any,
        *,
        gold: Optional[Tuple[List[PairInstance], numpy.ndarray]] = None,
        normalizer: Optional[int] = None,
    ) -> Tuple[float, Floats2d]:
        """Mean cross-entropy of the gold classes (losses.softmax_cross_entropy
        of the class probabilities; pairs whose gold label is unknown get no
        gradient).

        examples (Iterable[Example]): the batch.
        scores: predict's output for the examples' predicted docs; in update,
            one chunk's (n_pairs, n_classes) probabilities.
        gold: in update, the chunk's instances and gold class indices.
        normalizer (Optional[int]): in update, the batch's number of gold
            targets; default: those of `scores`.
        RETURNS (Tuple[float, Floats2d]): the loss and the gradient of the
            logits of all instances (concatenated in doc order).
        """
        if gold is None:
            examples = list(examples)
            validate_examples(examples, "RelationExtractor.get_loss")
            golds = [self._gold_ids(eg, instances) for eg, (instances, _) in zip(examples, scores)]
            gold_ids = numpy.concatenate(golds) if golds else numpy.zeros(0, dtype="int64")
            if not scores or len(gold_ids) == 0:
                return 0.0, self.model.ops.alloc2f(0, len(self.classes))
            probs = self.model.ops.xp.vstack([s for _, s in scores])
        else:
            probs, gold_ids = scores, gold[1]
        loss, d_probs = softmax_cross_entropy(self.model.ops.to_numpy(probs), gold_ids, normalizer=normalizer)
        return loss, self.model.ops.asarray2f(d_probs)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Initialize for training: relation labels from `labels` (e.g. the
        output of `spacy init labels`) or from the gold relations of the
        examples' reference docs, then the model (which loads its base model).
        """
        validate_get_examples(get_examples, "RelationExtractor.initialize")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            found = set()
            attr = self.cfg["relations_attr"]
            for eg in get_examples():
                for rel in eg.reference._.get(attr) or []:
                    found.add(_record_label(rel))
            found.discard(self.cfg["no_relation_label"])
            for label in sorted(found):
                self.add_label(label)
        if not self.labels:
            raise ValueError(Errors.E2315.format(name=self.name, attr=self.cfg["relations_attr"]))
        self.model.set_dim("nO", len(self.classes))
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=[inst.text for doc in sample for inst in self._instances(doc)][:10])

    def _classify(self, texts: List[str]) -> Floats2d:
        n_classes = len(self.classes)
        if not texts:
            return self.model.ops.alloc2f(0, n_classes)
        size = self.cfg["pair_batch_size"]
        parts = [self.model.predict(texts[i:i + size]) for i in range(0, len(texts), size)]
        probs = self.model.ops.xp.vstack(parts)
        if probs.shape[1] != n_classes:
            raise ValueError(Errors.E2319.format(name=self.name, n=n_classes, width=probs.shape[1]))
        return probs

    def _tag(self, label: str) -> str:
        return self.cfg["tags"].get(label, f"@{label}$")

    def _mark(self, head: Span, tail: Span, context: Span) -> str:
        offset = context.start_char
        return mark_entities(
            context.text,
            (head.start_char - offset, head.end_char - offset),
            (tail.start_char - offset, tail.end_char - offset),
            head_tag=self._tag(head.label_), tail_tag=self._tag(tail.label_),
            overlap_tag=self.cfg["overlap_tag"],
        )

    def _instances(self, doc: Doc) -> List[PairInstance]:
        """The candidates of a doc, capped per context and fitted to the encoder."""
        candidates = self._cap(doc, list(self.candidates(doc)))
        if not candidates:
            return []
        instances = [PairInstance(c.head, c.tail, c.context, self._mark(*c)) for c in candidates]
        return self._fit(doc, instances)

    def _cap(self, doc: Doc, candidates: List[PairCandidate]) -> List[PairCandidate]:
        cap = self.cfg["max_pairs_per_sentence"]
        by_context: Dict[Tuple[int, int], List[int]] = {}
        for i, c in enumerate(candidates):
            by_context.setdefault((c.context.start, c.context.end), []).append(i)
        keep = set()
        for (start, end), idx in by_context.items():
            if len(idx) > cap:
                sent = doc[start:end]
                warnings.warn(
                    Warnings.W2301.format(
                        text=doc.text[:40], start=sent.start_char, end=sent.end_char,
                        n=len(idx), cap=cap,
                    ),
                    stacklevel=3,
                )
                # the closest pairs first (ties: candidate order)
                idx = sorted(idx, key=lambda i: (_distance(candidates[i]), i))[:cap]
            keep.update(idx)
        return [c for i, c in enumerate(candidates) if i in keep]

    def _fit(self, doc: Doc, instances: List[PairInstance]) -> List[PairInstance]:
        """Window the instances whose text is longer than the encoder allows;
        drop (with W011) those whose mentions alone do not fit."""
        if not self.model.has_ref("encoder"):
            return instances
        encoder = self._encoder()
        if not encoder.attrs.get("has_transformer"):
            return instances
        from ..layers.pair_encoder import count_wordpieces, max_wordpieces

        limit = max_wordpieces(encoder)
        lengths = count_wordpieces(encoder, [inst.text for inst in instances])
        out = []
        for inst, n in zip(instances, lengths):
            if n <= limit:
                out.append(inst)
                continue
            fitted, n_min = self._window(encoder, inst, limit)
            if fitted is None:
                warnings.warn(
                    Warnings.W2302.format(
                        text=doc.text[:40], head=inst.head.text[:30],
                        head_start=inst.head.start_char, head_end=inst.head.end_char,
                        tail=inst.tail.text[:30], tail_start=inst.tail.start_char,
                        tail_end=inst.tail.end_char, n=n_min, limit=limit,
                    ),
                    stacklevel=3,
                )
                continue
            out.append(fitted)
        return out

    def _window(
        self, encoder: Model, inst: PairInstance, limit: int
    ) -> Tuple[Optional[PairInstance], int]:
        """The widest window of the context around both mentions that fits.

        Context tokens are added on the left and the right alternately (one
        side alone once the other is exhausted), counting each token's own
        wordpieces; the result is checked on the whole marked text and
        narrowed, alternately, until it fits (a tokenizer may split a text
        differently from its tokens one by one).

        RETURNS (Tuple[Optional[PairInstance], int]): the windowed instance
            (None if the mentions alone do not fit) and the wordpieces of the
            narrowest window (first to last mention).
        """
        from ..layers.pair_encoder import count_wordpieces

        doc = inst.context.doc
        lo_min, hi_max = inst.context.start, inst.context.end
        lo = min(inst.head.start, inst.tail.start)
        hi = max(inst.head.end, inst.tail.end)

        def marked(s: int, e: int) -> str:
            return self._mark(inst.head, inst.tail, doc[s:e])

        n_min = count_wordpieces(encoder, [marked(lo, hi)])[0]
        if n_min > limit:
            return None, n_min
        outside = list(range(lo_min, lo)) + list(range(hi, hi_max))
        # each token's wordpieces without [CLS]/[SEP]
        pieces = dict(zip(outside, (n - 2 for n in count_wordpieces(encoder, [doc[i].text for i in outside]))))
        start, end, total = lo, hi, n_min
        left = True
        while start > lo_min or end < hi_max:
            take_left = (left and start > lo_min) or end >= hi_max
            i = start - 1 if take_left else end
            if total + pieces[i] > limit:
                break
            total += pieces[i]
            if take_left:
                start -= 1
            else:
                end += 1
            left = not left
        text = marked(start, end)
        left = False
        while count_wordpieces(encoder, [text])[0] > limit and (start < lo or end > hi):
            if (left and start < lo) or end <= hi:
                start += 1
            else:
                end -= 1
            left = not left
            text = marked(start, end)
        return PairInstance(inst.head, inst.tail, doc[start:end], text), n_min

    def _gold_ids(self, eg: Example, instances: List[PairInstance]) -> numpy.ndarray:
        """Gold class index of each instance: the no-relation class (0) when the
        pair has no gold relation; -1 (no gradient) when its gold label is not
        one of the labels. A pair with several gold labels takes the first in
        label order."""
        index = {c: i for i, c in enumerate(self.classes)}
        gold: Dict[PairKey, List[int]] = {}
        for rel in eg.reference._.get(self.cfg["relations_attr"]) or []:
            gold.setdefault(_record_key(rel), []).append(index.get(_record_label(rel), -1))
        ids = numpy.zeros(len(instances), dtype="int64")
        for i, inst in enumerate(instances):
            found = gold.get(inst.key)
            if found:
                valid = [j for j in found if j >= 0]
                ids[i] = min(valid) if valid else -1
        return ids

    def _truth(self, examples: List[Example]) -> Tuple[List[PairInstance], numpy.ndarray]:
        instances: List[PairInstance] = []
        golds = []
        for eg in examples:
            insts = self._instances(eg.predicted)
            instances.extend(insts)
            golds.append(self._gold_ids(eg, insts))
        gold = numpy.concatenate(golds) if golds else numpy.zeros(0, dtype="int64")
        return instances, gold

    def _chunk_inputs(self, instances: Sequence[PairInstance]) -> List[str]:
        return [inst.text for inst in instances]


def _distance(c: PairCandidate) -> int:
    return max(c.head.start, c.tail.start) - min(c.head.end, c.tail.end)


def _span_record(span: Span) -> Dict[str, Any]:
    return {
        "start": span.start, "end": span.end, "start_char": span.start_char,
        "end_char": span.end_char, "label": span.label_,
    }


def _record_label(record: Dict[str, Any]) -> str:
    if "label" not in record:
        raise ValueError(Errors.E2318.format(what="'label'"))
    return str(record["label"])


def _record_key(record: Dict[str, Any]) -> PairKey:
    try:
        head, tail = record["head"], record["tail"]
        return (int(head["start_char"]), int(head["end_char"]), int(tail["start_char"]), int(tail["end_char"]))
    except (KeyError, TypeError) as e:
        raise ValueError(Errors.E2318.format(what=f"{e}")) from None


def relation_spans(doc: Doc, record: Dict[str, Any]) -> Tuple[Span, Span]:
    """The head and tail of a relation record as Spans of `doc` (with their
    entity labels), from the records' token offsets.

    doc (Doc): the doc the record belongs to.
    record (Dict[str, Any]): one item of doc._.relations.
    RETURNS (Tuple[Span, Span]): head and tail.
    """
    spans = []
    for side in ("head", "tail"):
        if side not in record:
            raise ValueError(Errors.E2318.format(what=f"'{side}'"))
        part = record[side]
        spans.append(Span(doc, int(part["start"]), int(part["end"]), label=part.get("label", "")))
    return spans[0], spans[1]
