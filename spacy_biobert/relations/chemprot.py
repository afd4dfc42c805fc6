"""The ChemProt format: abstracts, entities and relations files, sentence-split into candidate pairs."""

from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import (
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from spacy.util import registry

from ..errors import Errors
from ..text_files import open_utf8
from .marking import (
    CHEM_GENE_TAG,
    CHEMICAL_TAG,
    CPR_LABELS,
    GENE_TAG,
    NEGATIVE_LABEL,
    mark_entities,
)

PathT = Union[str, Path]
SentenceSplitter = Callable[[str], List[Tuple[int, int]]]


CHEMICAL = "CHEMICAL"


GENE_TYPES = ("GENE-Y", "GENE-N")


ENTITY_TYPES = (CHEMICAL,) + GENE_TYPES


# split name -> folder of the BioCreative release
CHEMPROT_SPLITS = {
    "train": "chemprot_training",
    "dev": "development",
    "test": "chemprot_test_gs",
}


@dataclass(frozen=True)
class Mention:
    """An entity mention with character offsets into its document's text."""

    id: str
    type: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ChemProtDocument:
    """One abstract: text = title + separator + abstract, its mentions, and
    the ids of mentions dropped for an offset mismatch (strict=False)."""

    pmid: str
    text: str
    entities: Dict[str, Mention]
    dropped: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ChemProtPair:
    """A candidate (CHEMICAL, GENE) pair inside one sentence.

    Offsets of sent_start/sent_end and of head/tail are into the document's
    text; ``sentence`` is text[sent_start:sent_end]. ``label`` is the pair's
    class (a CPR label or "false"); ``gold_labels`` holds every evaluated gold
    class of the pair (a few pairs have two; ``label`` is then the first of
    them in the order of the labels given to the reader).
    """

    pmid: str
    sent_start: int
    sent_end: int
    sentence: str
    head: Mention
    tail: Mention
    label: str
    gold_labels: Tuple[str, ...] = ()

    @property
    def head_span(self) -> Tuple[int, int]:
        """Head offsets relative to the sentence."""
        return (self.head.start - self.sent_start, self.head.end - self.sent_start)

    @property
    def tail_span(self) -> Tuple[int, int]:
        """Tail offsets relative to the sentence."""
        return (self.tail.start - self.sent_start, self.tail.end - self.sent_start)

    def to_dict(self) -> Dict:
        return asdict(self)


@dataclass
class ChemProtStats:
    """What reading one ChemProt split kept and lost.

    Gold relations are counted per line of the gold standard (the official
    evaluation's unit); gold pairs per distinct (PMID, Arg1, Arg2).
    n_gold_relations (read by chemprot_pairs) = n_gold_ignored + n_gold_kept +
    n_gold_lost + n_gold_lost_overlapping; n_gold_dropped relations of dropped
    mentions (strict=False) are not among them. ``lost`` lists the relations (PMID, label, Arg1,
    Arg2) whose entities fall in different sentences.
    """

    n_documents: int = 0
    n_entities: int = 0
    n_entities_dropped: int = 0
    n_sentences: int = 0
    n_sentences_merged: int = 0
    n_gold_relations: int = 0
    n_gold_dropped: int = 0
    n_gold_ignored: int = 0
    n_gold_kept: int = 0
    n_gold_lost: int = 0
    n_gold_lost_overlapping: int = 0
    n_gold_pairs: int = 0
    n_gold_pairs_multi_label: int = 0
    n_pairs: int = 0
    n_pairs_overlapping: int = 0
    label_counts: Dict[str, int] = field(default_factory=dict)
    lost: List[Tuple[str, str, str, str]] = field(default_factory=list)


def _split_fields(
    path: Path, i: int, raw: str, n: int, expected: str
) -> List[str]:
    line = raw.rstrip("\n").rstrip("\r")
    fields = line.split("\t")
    if len(fields) != n:
        raise ValueError(
            Errors.E2301.format(path=path, line=i, content=line[:80], expected=expected)
        )
    return fields


def _find_file(folder: Path, pattern: str) -> Path:
    if not folder.exists():
        raise FileNotFoundError(Errors.E2001.format(path=folder))
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise FileNotFoundError(
            Errors.E2309.format(path=folder, pattern=pattern, found=[p.name for p in found])
        )
    return found[0]


def read_chemprot_documents(
    abstracts_path: PathT, entities_path: PathT, *, sep: str = " ",
    strict: bool = True, stats: Optional[ChemProtStats] = None,
) -> Dict[str, ChemProtDocument]:
    """Documents with their mentions, every offset checked against the text.

    abstracts_path (Union[str, Path]): PMID<TAB>title<TAB>abstract per line.
    entities_path (Union[str, Path]): PMID<TAB>T#<TAB>type<TAB>start<TAB>end<TAB>text.
    sep (str): the one character between title and abstract.
    strict (bool): raise on a mention whose text differs from the document's
        text at its offsets; if False, drop it and count it in
        stats.n_entities_dropped.
    stats (Optional[ChemProtStats]): filled in if given.
    RETURNS (Dict[str, ChemProtDocument]): by PMID, in file order.
    """
    abstracts_path, entities_path = Path(abstracts_path), Path(entities_path)
    stats = stats if stats is not None else ChemProtStats()
    texts: Dict[str, str] = {}
    first_line: Dict[str, int] = {}
    for p in (abstracts_path, entities_path):
        if not p.exists():
            raise FileNotFoundError(Errors.E2001.format(path=p))
    with open_utf8(abstracts_path) as f:
        for i, raw in enumerate(f, start=1):
            pmid, title, abstract = _split_fields(
                abstracts_path, i, raw, 3, "'PMID<TAB>title<TAB>abstract'"
            )
            if pmid in texts:
                raise ValueError(
                    Errors.E2313.format(
                        path=abstracts_path, line=i, what="PMID", value=pmid,
                        first=first_line[pmid],
                    )
                )
            texts[pmid] = title + sep + abstract
            first_line[pmid] = i
    entities: Dict[str, Dict[str, Mention]] = {pmid: {} for pmid in texts}
    dropped: Dict[str, List[str]] = {pmid: [] for pmid in texts}
    entity_line: Dict[Tuple[str, str], int] = {}
    with open_utf8(entities_path) as f:
        for i, raw in enumerate(f, start=1):
            pmid, eid, typ, start_s, end_s, text = _split_fields(
                entities_path, i, raw, 6,
                "'PMID<TAB>T#<TAB>type<TAB>start<TAB>end<TAB>text'",
            )
            if pmid not in texts:
                raise ValueError(
                    Errors.E2306.format(
                        path=entities_path, line=i, what="PMID", value=pmid,
                        why=f"it is not in {abstracts_path.name}",
                    )
                )
            if typ not in ENTITY_TYPES:
                raise ValueError(
                    Errors.E2306.format(
                        path=entities_path, line=i, what="entity type", value=typ,
                        why=f"expected one of {ENTITY_TYPES}",
                    )
                )
            if (pmid, eid) in entity_line:
                raise ValueError(
                    Errors.E2313.format(
                        path=entities_path, line=i, what="entity", value=f"{pmid}/{eid}",
                        first=entity_line[(pmid, eid)],
                    )
                )
            entity_line[(pmid, eid)] = i
            doc_text = texts[pmid]
            if not (start_s.isdigit() and end_s.isdigit()) or not (
                0 <= int(start_s) < int(end_s) <= len(doc_text)
            ):
                raise ValueError(
                    Errors.E2304.format(
                        path=entities_path, line=i, pmid=pmid, eid=eid, start=start_s,
                        end=end_s, length=len(doc_text),
                    )
                )
            start, end = int(start_s), int(end_s)
            stats.n_entities += 1
            if doc_text[start:end] != text:
                if strict:
                    raise ValueError(
                        Errors.E2305.format(
                            path=entities_path, line=i, pmid=pmid, eid=eid, want=text,
                            start=start, end=end, got=doc_text[start:end],
                        )
                    )
                stats.n_entities_dropped += 1
                dropped[pmid].append(eid)
                continue
            entities[pmid][eid] = Mention(eid, typ, start, end, text)
    stats.n_documents += len(texts)
    return {
        pmid: ChemProtDocument(pmid, texts[pmid], entities[pmid], tuple(dropped[pmid]))
        for pmid in texts
    }


def read_chemprot_gold(
    path: PathT, documents: Dict[str, ChemProtDocument], *,
    stats: Optional[ChemProtStats] = None,
) -> List[Tuple[str, str, str, str, int]]:
    """The gold relations (PMID, label, Arg1 id, Arg2 id, line), checked against
    the documents: known PMID and entities, Arg1 a CHEMICAL, Arg2 a GENE.
    Relations of a mention dropped for an offset mismatch are skipped and
    counted in stats.n_gold_dropped.

    path (Union[str, Path]): PMID<TAB>CPR:n<TAB>Arg1:T#<TAB>Arg2:T# per line.
    documents (Dict[str, ChemProtDocument]): from read_chemprot_documents.
    stats (Optional[ChemProtStats]): filled in if given.
    RETURNS (List[Tuple[str, str, str, str, int]]): in file order.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    stats = stats if stats is not None else ChemProtStats()
    relations = []
    with open_utf8(path) as f:
        for i, raw in enumerate(f, start=1):
            pmid, label, arg1, arg2 = _split_fields(
                path, i, raw, 4, "'PMID<TAB>CPR:n<TAB>Arg1:T#<TAB>Arg2:T#'"
            )
            if not (arg1.startswith("Arg1:") and arg2.startswith("Arg2:")) or not (
                label.startswith("CPR:")
            ):
                raise ValueError(
                    Errors.E2301.format(
                        path=path, line=i, content=raw.rstrip("\n")[:80],
                        expected="'PMID<TAB>CPR:n<TAB>Arg1:T#<TAB>Arg2:T#'",
                    )
                )
            if pmid not in documents:
                raise ValueError(
                    Errors.E2306.format(
                        path=path, line=i, what="PMID", value=pmid,
                        why="no abstract has it",
                    )
                )
            ents = documents[pmid].entities
            if arg1[5:] in documents[pmid].dropped or arg2[5:] in documents[pmid].dropped:
                stats.n_gold_dropped += 1
                continue
            head, tail = ents.get(arg1[5:]), ents.get(arg2[5:])
            if head is None or tail is None:
                why = f"{arg1 if head is None else arg2} is not an entity of {pmid}"
            elif head.type != CHEMICAL or tail.type not in GENE_TYPES:
                why = f"expected CHEMICAL -> GENE, got {head.type} -> {tail.type}"
            else:
                relations.append((pmid, label, head.id, tail.id, i))
                continue
            raise ValueError(
                Errors.E2307.format(path=path, line=i, pmid=pmid, arg1=arg1, arg2=arg2, why=why)
            )
    return relations


class SpacySentenceSplitter:
    """Sentence offsets from a blank spaCy pipeline with the rule-based
    ``sentencizer``: (start, end) per sentence, trailing whitespace excluded."""

    def __init__(
        self, lang: str = "en", punct_chars: Optional[List[str]] = None
    ) -> None:
        import spacy

        self.nlp = spacy.blank(lang)
        config = {"punct_chars": punct_chars} if punct_chars else {}
        self.nlp.add_pipe("sentencizer", config=config)

    def __call__(self, text: str) -> List[Tuple[int, int]]:
        doc = self.nlp(text)
        return [(s.start_char, s.end_char) for s in doc.sents if s.text.strip()]


@registry.misc("spacy-biobert.sentencizer_splitter.v1")
def create_sentencizer_splitter(
    lang: str = "en", punct_chars: Optional[List[str]] = None
) -> SentenceSplitter:
    """Registered sentence splitter: spaCy's rule-based sentencizer.

    lang (str): the language of the blank pipeline (its tokenizer).
    punct_chars (Optional[List[str]]): sentence-final characters; None for the
        sentencizer's defaults.
    RETURNS (Callable[[str], List[Tuple[int, int]]]): text -> sentence offsets.
    """
    return SpacySentenceSplitter(lang, punct_chars)


def merge_sentences(
    sentences: Sequence[Tuple[int, int]], mentions: Iterable[Mention]
) -> Tuple[List[Tuple[int, int]], int]:
    """Join consecutive sentences that a mention straddles, so that every
    mention lies inside one sentence.

    RETURNS (Tuple[List[Tuple[int, int]], int]): the sentences, and how many
        boundaries were removed.
    """
    if not sentences:
        return [], 0
    starts = [s for s, _ in sentences]
    join = [False] * len(sentences)
    for m in mentions:
        first = max(bisect_right(starts, m.start) - 1, 0)
        last = max(bisect_right(starts, m.end - 1) - 1, 0)
        for k in range(first, last):
            join[k] = True
    merged: List[Tuple[int, int]] = []
    cur_start, cur_end = sentences[0]
    for k in range(1, len(sentences)):
        if join[k - 1]:
            cur_end = sentences[k][1]
        else:
            merged.append((cur_start, cur_end))
            cur_start, cur_end = sentences[k]
    merged.append((cur_start, cur_end))
    return merged, sum(join)


def _overlaps(a: Mention, b: Mention) -> bool:
    return a.start < b.end and b.start < a.end


def chemprot_pairs(
    documents: Dict[str, ChemProtDocument],
    gold: Iterable[Tuple[str, str, str, str, int]],
    *, splitter: Optional[SentenceSplitter] = None,
    labels: Sequence[str] = CPR_LABELS, negative_label: str = NEGATIVE_LABEL,
    skip_overlapping: bool = False, stats: Optional[ChemProtStats] = None,
) -> List[ChemProtPair]:
    """Candidate (CHEMICAL, GENE) pairs within sentences, labelled from gold.

    A sentence that a mention straddles is joined with the next one (counted
    in stats.n_sentences_merged). Pairs whose two mentions overlap (the same
    span annotated as both, or one nested in the other) are counted in
    stats.n_pairs_overlapping and kept unless skip_overlapping is set.

    documents (Dict[str, ChemProtDocument]): from read_chemprot_documents.
    gold (Iterable[Tuple[str, str, str, str, int]]): from read_chemprot_gold.
    splitter (Optional[SentenceSplitter]): text -> sentence offsets; default:
        spaCy's English sentencizer.
    labels (Sequence[str]): the evaluated classes; gold relations of other
        classes are ignored (counted in stats.n_gold_ignored).
    negative_label (str): the label of candidates not in the gold standard.
    skip_overlapping (bool): leave out pairs whose mentions overlap (their gold
        relations then count as lost, in stats.n_gold_lost_overlapping).
    stats (Optional[ChemProtStats]): filled in if given.
    RETURNS (List[ChemProtPair]): by document, sentence, head, tail.
    """
    splitter = splitter if splitter is not None else SpacySentenceSplitter()
    stats = stats if stats is not None else ChemProtStats()
    gold_labels: Dict[Tuple[str, str, str], Set[str]] = {}
    relation_count: Counter = Counter()
    for pmid, label, arg1, arg2, _ in gold:
        stats.n_gold_relations += 1
        if label not in labels:
            stats.n_gold_ignored += 1
            continue
        gold_labels.setdefault((pmid, arg1, arg2), set()).add(label)
        relation_count[(pmid, arg1, arg2)] += 1
    stats.n_gold_pairs += len(gold_labels)
    stats.n_gold_pairs_multi_label += sum(len(v) > 1 for v in gold_labels.values())
    order = {label: k for k, label in enumerate(labels)}
    pairs: List[ChemProtPair] = []
    sentence_of: Dict[Tuple[str, str], int] = {}
    skipped: Set[Tuple[str, str, str]] = set()
    label_counts: Counter = Counter(stats.label_counts)
    for pmid, doc in documents.items():
        mentions = sorted(doc.entities.values(), key=lambda m: (m.start, m.end, m.id))
        sentences, n_merged = merge_sentences(splitter(doc.text), mentions)
        stats.n_sentences += len(sentences)
        stats.n_sentences_merged += n_merged
        starts = [s for s, _ in sentences]
        by_sentence: Dict[int, List[Mention]] = {}
        for m in mentions:
            k = max(bisect_right(starts, m.start) - 1, 0)
            sentence_of[(pmid, m.id)] = k
            by_sentence.setdefault(k, []).append(m)
        for k, sent_mentions in sorted(by_sentence.items()):
            sent_start, sent_end = sentences[k]
            chems = [m for m in sent_mentions if m.type == CHEMICAL]
            genes = [m for m in sent_mentions if m.type in GENE_TYPES]
            for head in chems:
                for tail in genes:
                    overlapping = _overlaps(head, tail)
                    stats.n_pairs_overlapping += overlapping
                    if overlapping and skip_overlapping:
                        skipped.add((pmid, head.id, tail.id))
                        continue
                    found = sorted(
                        gold_labels.get((pmid, head.id, tail.id), ()), key=order.__getitem__
                    )
                    label = found[0] if found else negative_label
                    pairs.append(
                        ChemProtPair(
                            pmid, sent_start, sent_end, doc.text[sent_start:sent_end],
                            head, tail, label, tuple(found),
                        )
                    )
                    label_counts[label] += 1
    for (pmid, arg1, arg2), n in relation_count.items():
        if (pmid, arg1, arg2) in skipped:
            stats.n_gold_lost_overlapping += n
        elif sentence_of[(pmid, arg1)] == sentence_of[(pmid, arg2)]:
            stats.n_gold_kept += n
        else:
            stats.n_gold_lost += n
            for label in sorted(gold_labels[(pmid, arg1, arg2)]):
                stats.lost.append((pmid, label, arg1, arg2))
    stats.n_pairs += len(pairs)
    stats.label_counts = dict(sorted(label_counts.items()))
    return pairs


def read_chemprot(
    folder: PathT, *, splitter: Optional[SentenceSplitter] = None,
    labels: Sequence[str] = CPR_LABELS, negative_label: str = NEGATIVE_LABEL,
    skip_overlapping: bool = False, sep: str = " ", strict: bool = True,
) -> Tuple[List[ChemProtPair], ChemProtStats]:
    """Candidate pairs and statistics of one ChemProt split folder.

    folder (Union[str, Path]): a folder with one each of *_abstracts*.tsv,
        *_entities*.tsv and *_gold_standard.tsv (e.g.
        ../shared/data/re/chemprot/development).
    splitter, labels, negative_label, skip_overlapping: see chemprot_pairs.
    sep, strict: see read_chemprot_documents.
    RETURNS (Tuple[List[ChemProtPair], ChemProtStats]): the pairs and counts.
    """
    folder = Path(folder)
    stats = ChemProtStats()
    documents = read_chemprot_documents(
        _find_file(folder, "*_abstracts*.tsv"), _find_file(folder, "*_entities*.tsv"),
        sep=sep, strict=strict, stats=stats,
    )
    gold = read_chemprot_gold(
        _find_file(folder, "*_gold_standard.tsv"), documents, stats=stats
    )
    pairs = chemprot_pairs(
        documents, gold, splitter=splitter, labels=labels,
        negative_label=negative_label, skip_overlapping=skip_overlapping, stats=stats,
    )
    return pairs, stats


def chemprot_split_folder(root: PathT, split: str) -> Path:
    """The folder of a split ('train', 'dev', 'test') under the corpus root."""
    if split not in CHEMPROT_SPLITS:
        raise ValueError(Errors.E2308.format(split=split, splits=list(CHEMPROT_SPLITS)))
    return Path(root) / CHEMPROT_SPLITS[split]


def mark_pair(
    pair: ChemProtPair, *, head_tag: str = CHEMICAL_TAG, tail_tag: str = GENE_TAG,
    overlap_tag: str = CHEM_GENE_TAG,
) -> str:
    """The pair's sentence with its chemical and gene replaced by tags (see
    mark_entities)."""
    return mark_entities(
        pair.sentence, pair.head_span, pair.tail_span, head_tag=head_tag,
        tail_tag=tail_tag, overlap_tag=overlap_tag,
    )
