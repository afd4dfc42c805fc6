"""Candidate entity pairs for relation extraction (registered, swappable).

A candidate generator is a callable ``Doc -> List[PairCandidate]``: each
candidate is a directed (head, tail) pair of entity spans and the context span
(normally the sentence) that is encoded for it.
"""

from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.util import SimpleFrozenList, registry

from ..errors import Errors

ANY_LABEL = "*"


TYPE_PAIR_SEP = "->"


class PairCandidate(NamedTuple):
    """A directed candidate pair and the text span it is classified in."""

    head: Span
    tail: Span
    context: Span


CandidateGetterT = Callable[[Doc], List[PairCandidate]]


def parse_type_pairs(type_pairs: Sequence[str], name: str) -> List[Tuple[str, str]]:
    """Parse 'HEAD->TAIL' strings ('*' = any label) into (head, tail) tuples.

    type_pairs (Sequence[str]): e.g. ['CHEMICAL->GENE-Y', 'CHEMICAL->GENE-N'].
    name (str): who asks, for the error message.
    RETURNS (List[Tuple[str, str]]): the label pairs.
    """
    parsed = []
    for pair in type_pairs:
        parts = pair.split(TYPE_PAIR_SEP) if isinstance(pair, str) else []
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(Errors.E2314.format(pair=pair, name=name))
        parsed.append((parts[0].strip(), parts[1].strip()))
    return parsed


def _matches(pattern: str, label: str) -> bool:
    return pattern == ANY_LABEL or pattern == label


def sentence_pairs(
    doc: Doc, type_pairs: Sequence[Tuple[str, str]], spans_key: Optional[str] = None
) -> List[PairCandidate]:
    """Ordered pairs of distinct entities inside one sentence (doc.sents when the
    doc has sentence boundaries, else the whole doc) whose labels match one of
    type_pairs. The entities are doc.spans[spans_key] when spans_key is given
    and the doc has that span group (it may hold overlapping mentions, e.g.
    gold annotations), else doc.ents. An entity that crosses a sentence
    boundary is in no pair. Order: by sentence, then head, then tail.
    """
    if spans_key and spans_key in doc.spans:
        ents = sorted(doc.spans[spans_key], key=lambda s: (s.start, s.end, s.label_))
    else:
        ents = list(doc.ents)
    if not ents or not type_pairs:
        return []
    contexts = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    out: List[PairCandidate] = []
    for sent in contexts:
        inside = [e for e in ents if e.start >= sent.start and e.end <= sent.end]
        for head in inside:
            for tail in inside:
                if head == tail:
                    continue
                if any(
                    _matches(h, head.label_) and _matches(t, tail.label_)
                    for h, t in type_pairs
                ):
                    out.append(PairCandidate(head, tail, sent))
    return out


@registry.misc("spacy-biobert.sentence_pairs.v1")
def create_sentence_pairs(
    type_pairs: List[str] = SimpleFrozenList(["CHEMICAL->GENE-Y", "CHEMICAL->GENE-N"]),
    spans_key: Optional[str] = None,
) -> CandidateGetterT:
    """Registered candidate generator: entity pairs within one sentence.

    type_pairs (List[str]): 'HEAD->TAIL' entity-label pairs ('*' = any label);
        the default is ChemProt's (a chemical and a gene of either kind).
    spans_key (Optional[str]): take the entities from this span group when a
        doc has it (gold mentions, overlapping ones included), else from
        doc.ents; None (default): always doc.ents. Lets one pipeline train on
        gold mentions and run after an NER component.
    RETURNS (Callable[[Doc], List[PairCandidate]]): the generator.
    """
    parsed = parse_type_pairs(type_pairs, "spacy-biobert.sentence_pairs.v1")

    def get_candidates(doc: Doc) -> List[PairCandidate]:
        return sentence_pairs(doc, parsed, spans_key)

    return get_candidates
