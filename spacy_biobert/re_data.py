"""Reading the relation extraction (RE) data sets of the BioBERT paper.

GAD and EU-ADR come pre-processed by BioBERT: one sentence per line with the
two entities already replaced by ``@GENE$`` and ``@DISEASE$``, a binary label,
10 folds of ``train.tsv`` (``sentence<TAB>label``, no header) and ``test.tsv``
(a header ``index<TAB>sentence<TAB>label``, then three columns).

ChemProt is the original BioCreative VI corpus with character offsets. Per
split: ``*_abstracts*.tsv`` (PMID, title, abstract), ``*_entities*.tsv`` (PMID,
T-id, CHEMICAL|GENE-Y|GENE-N, start, end, text; offsets into title + one
separator character + abstract) and ``*_gold_standard.tsv`` (PMID, CPR:n,
Arg1:T#, Arg2:T#). Each document is split into sentences by a swappable
splitter (spaCy's rule-based ``sentencizer`` by default); every (CHEMICAL,
GENE) mention pair inside one sentence is a candidate, labelled with its CPR
class when it is in the gold standard and its class is one of the evaluated
ones (CPR:3, 4, 5, 6, 9), else ``false``. Gold relations whose two entities lie
in different sentences cannot be candidates: they are counted as lost (and
still count as false negatives in the official evaluation).

Every malformed line fails with ``file:line`` in the message.
"""

from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from .errors import Errors

GENE_TAG = "@GENE$"
DISEASE_TAG = "@DISEASE$"
CHEMICAL_TAG = "@CHEMICAL$"
CHEM_GENE_TAG = "@CHEM-GENE$"
BINARY_TAGS = (GENE_TAG, DISEASE_TAG)
TEST_HEADER = ["index", "sentence", "label"]
BINARY_LABELS = ("0", "1")

CPR_LABELS = ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9")
NEGATIVE_LABEL = "false"
CHEMICAL = "CHEMICAL"
GENE_TYPES = ("GENE-Y", "GENE-N")
ENTITY_TYPES = (CHEMICAL,) + GENE_TYPES
# split name -> folder of the BioCreative release
CHEMPROT_SPLITS = {
    "train": "chemprot_training",
    "dev": "development",
    "test": "chemprot_test_gs",
}

SentenceSplitter = Callable[[str], List[Tuple[int, int]]]
PathT = Union[str, Path]


# ---------------------------------------------------------------------------
# GAD and EU-ADR


@dataclass(frozen=True)
class BinaryRERecord:
    """One pre-anonymised sentence of GAD or EU-ADR.

    text (str): the sentence, with the entities replaced by @GENE$ / @DISEASE$.
    label (int): 1 = association, 0 = none.
    line (int): line number in its file (1-based), for error messages.
    index (Optional[int]): the index column of test.tsv, None in train.tsv.
    """

    text: str
    label: int
    line: int
    index: Optional[int] = None


def read_binary_re(
    path: PathT, *, tags: Sequence[str] = BINARY_TAGS
) -> Iterator[BinaryRERecord]:
    """Yield the records of a GAD / EU-ADR file, checking every line.

    Both layouts are read: ``sentence<TAB>label`` (train.tsv, no header) and
    ``index<TAB>sentence<TAB>label`` after an ``index<TAB>sentence<TAB>label``
    header (test.tsv); the header decides which. An empty file (dev.tsv of the
    release) yields nothing.

    path (Union[str, Path]): the file.
    tags (Sequence[str]): tags each sentence must contain exactly once; () skips
        the check.
    YIELDS (BinaryRERecord): one per line.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E004.format(path=path))
    n_fields = 2
    with path.open(encoding="utf8") as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            fields = line.split("\t")
            if i == 1 and fields == TEST_HEADER:
                n_fields = 3
                continue
            if len(fields) != n_fields or not fields[-2].strip():
                expected = (
                    "'sentence<TAB>label' (train.tsv layout)"
                    if n_fields == 2
                    else "'index<TAB>sentence<TAB>label' (test.tsv layout)"
                )
                raise ValueError(
                    Errors.E030.format(
                        path=path, line=i, content=line[:80], expected=expected
                    )
                )
            index: Optional[int] = None
            if n_fields == 3:
                if not fields[0].isdigit():
                    raise ValueError(
                        Errors.E030.format(
                            path=path, line=i, content=line[:80],
                            expected="a non-negative integer in the index column",
                        )
                    )
                index = int(fields[0])
            text, label = fields[-2], fields[-1].strip()
            if label not in BINARY_LABELS:
                raise ValueError(
                    Errors.E031.format(path=path, line=i, label=label, labels=BINARY_LABELS)
                )
            counts = {tag: text.count(tag) for tag in tags}
            if any(n != 1 for n in counts.values()):
                raise ValueError(
                    Errors.E032.format(path=path, line=i, counts=counts, tags=tuple(tags))
                )
            yield BinaryRERecord(text=text, label=int(label), line=i, index=index)


def read_binary_re_fold(
    root: PathT, fold: int, *, tags: Sequence[str] = BINARY_TAGS
) -> Dict[str, List[BinaryRERecord]]:
    """The train and test records of one cross-validation fold.

    root (Union[str, Path]): the data set folder with folds 1..10
        (e.g. ../shared/data/re/gad).
    fold (int): the fold number (folder name).
    tags (Sequence[str]): see read_binary_re.
    RETURNS (Dict[str, List[BinaryRERecord]]): {"train": [...], "test": [...]}.
    """
    folder = Path(root) / str(fold)
    return {
        split: list(read_binary_re(folder / f"{split}.tsv", tags=tags))
        for split in ("train", "test")
    }


def list_folds(root: PathT) -> List[int]:
    """The fold numbers of a cross-validation folder, in numeric order."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(Errors.E004.format(path=root))
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


# ---------------------------------------------------------------------------
# ChemProt


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
            Errors.E030.format(path=path, line=i, content=line[:80], expected=expected)
        )
    return fields


def _find_file(folder: Path, pattern: str) -> Path:
    if not folder.exists():
        raise FileNotFoundError(Errors.E004.format(path=folder))
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise FileNotFoundError(
            Errors.E038.format(path=folder, pattern=pattern, found=[p.name for p in found])
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
            raise FileNotFoundError(Errors.E004.format(path=p))
    with abstracts_path.open(encoding="utf8") as f:
        for i, raw in enumerate(f, start=1):
            pmid, title, abstract = _split_fields(
                abstracts_path, i, raw, 3, "'PMID<TAB>title<TAB>abstract'"
            )
            if pmid in texts:
                raise ValueError(
                    Errors.E042.format(
                        path=abstracts_path, line=i, what="PMID", value=pmid,
                        first=first_line[pmid],
                    )
                )
            texts[pmid] = title + sep + abstract
            first_line[pmid] = i
    entities: Dict[str, Dict[str, Mention]] = {pmid: {} for pmid in texts}
    dropped: Dict[str, List[str]] = {pmid: [] for pmid in texts}
    entity_line: Dict[Tuple[str, str], int] = {}
    with entities_path.open(encoding="utf8") as f:
        for i, raw in enumerate(f, start=1):
            pmid, eid, typ, start_s, end_s, text = _split_fields(
                entities_path, i, raw, 6,
                "'PMID<TAB>T#<TAB>type<TAB>start<TAB>end<TAB>text'",
            )
            if pmid not in texts:
                raise ValueError(
                    Errors.E035.format(
                        path=entities_path, line=i, what="PMID", value=pmid,
                        why=f"it is not in {abstracts_path.name}",
                    )
                )
            if typ not in ENTITY_TYPES:
                raise ValueError(
                    Errors.E035.format(
                        path=entities_path, line=i, what="entity type", value=typ,
                        why=f"expected one of {ENTITY_TYPES}",
                    )
                )
            if (pmid, eid) in entity_line:
                raise ValueError(
                    Errors.E042.format(
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
                    Errors.E033.format(
                        path=entities_path, line=i, pmid=pmid, eid=eid, start=start_s,
                        end=end_s, length=len(doc_text),
                    )
                )
            start, end = int(start_s), int(end_s)
            stats.n_entities += 1
            if doc_text[start:end] != text:
                if strict:
                    raise ValueError(
                        Errors.E034.format(
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
        raise FileNotFoundError(Errors.E004.format(path=path))
    stats = stats if stats is not None else ChemProtStats()
    relations = []
    with path.open(encoding="utf8") as f:
        for i, raw in enumerate(f, start=1):
            pmid, label, arg1, arg2 = _split_fields(
                path, i, raw, 4, "'PMID<TAB>CPR:n<TAB>Arg1:T#<TAB>Arg2:T#'"
            )
            if not (arg1.startswith("Arg1:") and arg2.startswith("Arg2:")) or not (
                label.startswith("CPR:")
            ):
                raise ValueError(
                    Errors.E030.format(
                        path=path, line=i, content=raw.rstrip("\n")[:80],
                        expected="'PMID<TAB>CPR:n<TAB>Arg1:T#<TAB>Arg2:T#'",
                    )
                )
            if pmid not in documents:
                raise ValueError(
                    Errors.E035.format(
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
                Errors.E036.format(path=path, line=i, pmid=pmid, arg1=arg1, arg2=arg2, why=why)
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
        raise ValueError(Errors.E037.format(split=split, splits=list(CHEMPROT_SPLITS)))
    return Path(root) / CHEMPROT_SPLITS[split]


def mark_entities(
    text: str, head: Tuple[int, int], tail: Tuple[int, int], *,
    head_tag: str = CHEMICAL_TAG, tail_tag: str = GENE_TAG,
    overlap_tag: str = CHEM_GENE_TAG,
) -> str:
    """Replace two mentions of a sentence by tags (BioBERT's anonymisation).

    Disjoint mentions are each replaced by their tag. Overlapping mentions
    (identical spans, one nested in the other, or crossing) are replaced
    together: their union becomes one overlap_tag, so no tag splits a word and
    neither mention's text leaks. Other mentions of the sentence stay as text.

    text (str): the sentence.
    head (Tuple[int, int]): head offsets into text.
    tail (Tuple[int, int]): tail offsets into text.
    RETURNS (str): the marked sentence.
    """
    for name, (start, end) in (("head", head), ("tail", tail)):
        if not 0 <= start < end <= len(text):
            raise ValueError(
                Errors.E041.format(
                    start=0, end=len(text), which=name, ent_start=start, ent_end=end
                )
            )
    if head[0] < tail[1] and tail[0] < head[1]:
        start, end = min(head[0], tail[0]), max(head[1], tail[1])
        return text[:start] + overlap_tag + text[end:]
    spans = sorted([(head, head_tag), (tail, tail_tag)], reverse=True)
    for (start, end), tag in spans:
        text = text[:start] + tag + text[end:]
    return text


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


# ---------------------------------------------------------------------------
# Docs and corpora


def one_hot_cats(gold: Union[str, Iterable[str]], labels: Sequence[str]) -> Dict[str, float]:
    """doc.cats with 1.0 for the gold label(s) and 0.0 for the others."""
    gold_set = {gold} if isinstance(gold, str) else set(gold)
    return {label: float(label in gold_set) for label in labels}


def binary_record_to_doc(
    vocab: Vocab, record: BinaryRERecord, *, make_doc: Optional[Callable[[str], Doc]] = None
) -> Doc:
    """A Doc of the anonymised sentence with cats {"0": ., "1": .}."""
    doc = make_doc(record.text) if make_doc else Doc(vocab, words=record.text.split())
    doc.cats = one_hot_cats(str(record.label), BINARY_LABELS)
    return doc


def chemprot_pair_to_doc(
    vocab: Vocab, pair: ChemProtPair, *, labels: Sequence[str] = CPR_LABELS,
    negative_label: str = NEGATIVE_LABEL,
    make_doc: Optional[Callable[[str], Doc]] = None,
    head_tag: str = CHEMICAL_TAG, tail_tag: str = GENE_TAG,
    overlap_tag: str = CHEM_GENE_TAG,
) -> Doc:
    """A Doc of the marked sentence (see mark_pair) with one-hot cats over
    labels + negative_label (every gold class of a multi-label pair is 1.0)."""
    text = mark_pair(pair, head_tag=head_tag, tail_tag=tail_tag, overlap_tag=overlap_tag)
    doc = make_doc(text) if make_doc else Doc(vocab, words=text.split())
    gold = pair.gold_labels or (negative_label,)
    doc.cats = one_hot_cats(gold, list(labels) + [negative_label])
    return doc


class BinaryRECorpus:
    """Examples (doc.cats) from a GAD / EU-ADR file, for [corpora]."""

    def __init__(self, path: PathT, *, limit: int = 0) -> None:
        self.path = Path(path)
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E004.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        for n, record in enumerate(read_binary_re(self.path)):
            if self.limit and n >= self.limit:
                return
            ref = binary_record_to_doc(nlp.vocab, record, make_doc=nlp.make_doc)
            yield Example(nlp.make_doc(record.text), ref)


@registry.readers("spacy-biobert.BinaryRECorpus.v1")
def create_binary_re_corpus(path: Path, limit: int = 0) -> BinaryRECorpus:
    """Registered reader: GAD / EU-ADR sentences with cats {"0", "1"}.

    path (Path): a train.tsv or test.tsv of one fold.
    limit (int): stop after this many examples (0 = all).
    """
    return BinaryRECorpus(path, limit=limit)


class ChemProtCorpus:
    """Examples (marked sentence, doc.cats) from a ChemProt split folder."""

    def __init__(
        self, path: PathT, *, splitter: Optional[SentenceSplitter] = None,
        labels: Sequence[str] = CPR_LABELS, head_tag: str = CHEMICAL_TAG,
        tail_tag: str = GENE_TAG, overlap_tag: str = CHEM_GENE_TAG, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.splitter = splitter
        self.labels = list(labels)
        self.tags = {"head_tag": head_tag, "tail_tag": tail_tag, "overlap_tag": overlap_tag}
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E004.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        pairs, _ = read_chemprot(self.path, splitter=self.splitter, labels=self.labels)
        for n, pair in enumerate(pairs):
            if self.limit and n >= self.limit:
                return
            ref = chemprot_pair_to_doc(
                nlp.vocab, pair, labels=self.labels, make_doc=nlp.make_doc, **self.tags
            )
            yield Example(nlp.make_doc(ref.text), ref)


@registry.readers("spacy-biobert.ChemProtCorpus.v1")
def create_chemprot_corpus(
    path: Path, splitter: Optional[SentenceSplitter] = None,
    labels: Sequence[str] = CPR_LABELS, head_tag: str = CHEMICAL_TAG,
    tail_tag: str = GENE_TAG, overlap_tag: str = CHEM_GENE_TAG, limit: int = 0,
) -> ChemProtCorpus:
    """Registered reader: ChemProt candidate pairs as marked sentences with
    cats over the CPR labels and "false".

    path (Path): a split folder (chemprot_training, development, chemprot_test_gs).
    splitter (Optional[SentenceSplitter]): e.g. spacy-biobert.sentencizer_splitter.v1.
    labels (List[str]): the evaluated classes.
    head_tag, tail_tag, overlap_tag (str): see mark_entities.
    limit (int): stop after this many examples (0 = all).
    """
    return ChemProtCorpus(
        path, splitter=splitter, labels=labels, head_tag=head_tag, tail_tag=tail_tag,
        overlap_tag=overlap_tag, limit=limit,
    )


# ---------------------------------------------------------------------------
# Docs with entities and gold relations (the relation extractor's training data)

ENTITIES_SPANS_KEY = "entities"
GENE = "GENE"
DISEASE = "DISEASE"


def _blank_tokenizer(vocab: Vocab) -> Callable[[str], Doc]:
    from spacy.lang.en import English

    return English(vocab=vocab).make_doc


def _doc_with_cuts(
    vocab: Vocab, text: str, cuts: Iterable[int],
    make_doc: Optional[Callable[[str], Doc]] = None,
) -> Doc:
    """A Doc of `text` tokenized by make_doc (default: whitespace), with tokens
    split further at each character offset in `cuts`, so that every mention
    and sentence boundary falls on a token boundary."""
    base = make_doc(text) if make_doc else _blank_tokenizer(vocab)(text)
    points = sorted(set(c for c in cuts if 0 < c < len(text)))
    words: List[str] = []
    spaces: List[bool] = []
    for tok in base:
        start, end = tok.idx, tok.idx + len(tok.text)
        k = bisect_right(points, start)
        bounds = [start]
        while k < len(points) and points[k] < end:
            bounds.append(points[k])
            k += 1
        bounds.append(end)
        for a, b in zip(bounds, bounds[1:]):
            words.append(text[a:b])
            spaces.append(False)
        spaces[-1] = bool(tok.whitespace_)
    return Doc(vocab, words=words, spaces=spaces)


def _set_sentences(doc: Doc, starts: Iterable[int]) -> None:
    """Sentence boundaries at the tokens that begin at the given offsets."""
    starts = set(starts)
    for i, tok in enumerate(doc):
        tok.is_sent_start = i == 0 or tok.idx in starts


def _relation_record(head: Any, tail: Any, label: str) -> Dict[str, Any]:
    def span(s: Any) -> Dict[str, Any]:
        return {
            "start": s.start, "end": s.end, "start_char": s.start_char,
            "end_char": s.end_char, "label": s.label_,
        }

    return {"head": span(head), "tail": span(tail), "label": label}


def _tokens_copy(ref: Doc) -> Doc:
    """A doc with the same tokens and whitespace as ref, and nothing else."""
    return Doc(ref.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])


def _predicted_copy(ref: Doc, spans_key: Optional[str]) -> Doc:
    """The reference doc's tokens, sentences and entities, without relations:
    what the relation extractor sees in training and evaluation."""
    pred = _tokens_copy(ref)
    if ref.has_annotation("SENT_START"):
        for a, b in zip(pred, ref):
            a.is_sent_start = b.is_sent_start
    pred.ents = [pred.char_span(e.start_char, e.end_char, label=e.label_) for e in ref.ents]
    if spans_key and spans_key in ref.spans:
        pred.spans[spans_key] = [
            pred.char_span(s.start_char, s.end_char, label=s.label_) for s in ref.spans[spans_key]
        ]
    return pred


def binary_record_to_relation_doc(
    vocab: Vocab, record: BinaryRERecord, *,
    make_doc: Optional[Callable[[str], Doc]] = None,
    head_label: str = GENE, tail_label: str = DISEASE,
    head_tag: str = GENE_TAG, tail_tag: str = DISEASE_TAG,
    positive_label: str = "1",
) -> Doc:
    """A GAD / EU-ADR sentence as a reference doc for the relation extractor:
    the two tags are entities (GENE, DISEASE), and a positive record has one
    relation GENE -> DISEASE labelled positive_label. The extractor, with
    tags {GENE: @GENE$, DISEASE: @DISEASE$}, then classifies the sentence as
    BioBERT does (the tags replace themselves)."""
    from .extensions import install_extensions

    install_extensions()
    text = record.text
    found = []
    for label, tag in ((head_label, head_tag), (tail_label, tail_tag)):
        start = text.find(tag)
        if start < 0:
            raise ValueError(Errors.E032.format(
                path="<record>", line=record.line, counts={tag: 0}, tags=(head_tag, tail_tag)
            ))
        found.append((start, start + len(tag), label))
    doc = _doc_with_cuts(vocab, text, [c for s, e, _ in found for c in (s, e)], make_doc)
    spans = [doc.char_span(s, e, label=label) for s, e, label in found]
    doc.ents = sorted(spans, key=lambda s: s.start)
    doc._.relations = [_relation_record(spans[0], spans[1], positive_label)] if record.label == 1 else []
    return doc


def chemprot_document_to_doc(
    vocab: Vocab, document: ChemProtDocument,
    gold: Sequence[Tuple[str, str, str, str, int]], *,
    splitter: Optional[SentenceSplitter] = None,
    make_doc: Optional[Callable[[str], Doc]] = None,
    labels: Sequence[str] = CPR_LABELS, merge_gene_types: bool = True,
    spans_key: str = ENTITIES_SPANS_KEY,
) -> Doc:
    """A ChemProt abstract as a reference doc: sentences (the splitter's, joined
    where a mention straddles two, as in chemprot_pairs), every mention in
    doc.spans[spans_key] (overlapping ones too), the non-overlapping longest
    mentions in doc.ents, and the gold relations of the evaluated labels in
    doc._.relations, those across sentences included (they can never be
    candidates, so they count as false negatives, as in the official
    evaluation). GENE-Y / GENE-N become GENE when merge_gene_types is set.

    gold: this document's relations from read_chemprot_gold.
    """
    from spacy.util import filter_spans

    from .extensions import install_extensions

    install_extensions()
    splitter = splitter if splitter is not None else SpacySentenceSplitter()
    text = document.text
    mentions = sorted(document.entities.values(), key=lambda m: (m.start, m.end, m.id))
    sentences, _ = merge_sentences(splitter(text), mentions)
    cuts = [c for m in mentions for c in (m.start, m.end)] + [s for s, _ in sentences]
    doc = _doc_with_cuts(vocab, text, cuts, make_doc)
    _set_sentences(doc, [s for s, _ in sentences])

    def label_of(m: Mention) -> str:
        return GENE if merge_gene_types and m.type in GENE_TYPES else m.type

    spans = {}
    for m in mentions:
        span = doc.char_span(m.start, m.end, label=label_of(m))
        if span is None:  # a mention with whitespace at its edge
            span = doc.char_span(m.start, m.end, label=label_of(m), alignment_mode="contract")
        if span is not None:
            spans[m.id] = span
    unique = list({(s.start, s.end, s.label_): s for s in spans.values()}.values())
    doc.spans[spans_key] = sorted(unique, key=lambda s: (s.start, s.end, s.label_))
    doc.ents = filter_spans(unique)
    relations = []
    for _, label, arg1, arg2, _ in gold:
        if label in labels and arg1 in spans and arg2 in spans:
            relations.append(_relation_record(spans[arg1], spans[arg2], label))
    doc._.relations = relations
    return doc


def read_chemprot_docs(
    folder: PathT, vocab: Vocab, *, splitter: Optional[SentenceSplitter] = None,
    make_doc: Optional[Callable[[str], Doc]] = None, labels: Sequence[str] = CPR_LABELS,
    merge_gene_types: bool = True, spans_key: str = ENTITIES_SPANS_KEY,
    sep: str = " ", strict: bool = True,
) -> Iterator[Doc]:
    """Reference docs (see chemprot_document_to_doc) of a ChemProt split folder,
    in the order of its abstracts file."""
    folder = Path(folder)
    stats = ChemProtStats()
    documents = read_chemprot_documents(
        _find_file(folder, "*_abstracts*.tsv"), _find_file(folder, "*_entities*.tsv"),
        sep=sep, strict=strict, stats=stats,
    )
    gold = read_chemprot_gold(_find_file(folder, "*_gold_standard.tsv"), documents, stats=stats)
    by_doc: Dict[str, List[Tuple[str, str, str, str, int]]] = {}
    for rel in gold:
        by_doc.setdefault(rel[0], []).append(rel)
    splitter = splitter if splitter is not None else SpacySentenceSplitter()
    for pmid, document in documents.items():
        yield chemprot_document_to_doc(
            vocab, document, by_doc.get(pmid, []), splitter=splitter, make_doc=make_doc,
            labels=labels, merge_gene_types=merge_gene_types, spans_key=spans_key,
        )


class BinaryRERelationCorpus:
    """Examples for the relation extractor from a GAD / EU-ADR file: entity
    docs in, gold doc._.relations on the reference."""

    def __init__(self, path: PathT, *, limit: int = 0) -> None:
        self.path = Path(path)
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E004.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        from .extensions import install_extensions

        install_extensions()
        for n, record in enumerate(read_binary_re(self.path)):
            if self.limit and n >= self.limit:
                return
            ref = binary_record_to_relation_doc(nlp.vocab, record, make_doc=nlp.make_doc)
            yield Example(_predicted_copy(ref, None), ref)


@registry.readers("spacy-biobert.BinaryRERelationCorpus.v1")
def create_binary_re_relation_corpus(path: Path, limit: int = 0) -> BinaryRERelationCorpus:
    """Registered reader: GAD / EU-ADR sentences as docs with the two tags as
    GENE and DISEASE entities and, for label 1, the relation GENE -> DISEASE
    labelled "1" in doc._.relations (for biobert_relation_extractor).

    path (Path): a train.tsv or test.tsv of one fold.
    limit (int): stop after this many examples (0 = all).
    """
    return BinaryRERelationCorpus(path, limit=limit)


class ChemProtRelationCorpus:
    """Examples for the relation extractor: one ChemProt abstract per example,
    gold entities (doc.ents and doc.spans[spans_key]) and sentences on both
    docs, gold relations on the reference."""

    def __init__(
        self, path: PathT, *, splitter: Optional[SentenceSplitter] = None,
        labels: Sequence[str] = CPR_LABELS, merge_gene_types: bool = True,
        spans_key: str = ENTITIES_SPANS_KEY, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.splitter = splitter
        self.labels = list(labels)
        self.merge_gene_types = merge_gene_types
        self.spans_key = spans_key
        self.limit = limit
        if not self.path.exists():
            raise FileNotFoundError(Errors.E004.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        from .extensions import install_extensions

        install_extensions()
        docs = read_chemprot_docs(
            self.path, nlp.vocab, splitter=self.splitter, make_doc=nlp.make_doc,
            labels=self.labels, merge_gene_types=self.merge_gene_types, spans_key=self.spans_key,
        )
        for n, ref in enumerate(docs):
            if self.limit and n >= self.limit:
                return
            yield Example(_predicted_copy(ref, self.spans_key), ref)


@registry.readers("spacy-biobert.ChemProtRelationCorpus.v1")
def create_chemprot_relation_corpus(
    path: Path, splitter: Optional[SentenceSplitter] = None,
    labels: Sequence[str] = CPR_LABELS, merge_gene_types: bool = True,
    spans_key: str = ENTITIES_SPANS_KEY, limit: int = 0,
) -> ChemProtRelationCorpus:
    """Registered reader: ChemProt abstracts with gold entities and sentences,
    gold relations (CPR labels) in the reference's doc._.relations.

    path (Path): a split folder (chemprot_training, development, chemprot_test_gs).
    splitter (Optional[SentenceSplitter]): default spaCy's English sentencizer.
    labels (List[str]): the evaluated classes.
    merge_gene_types (bool): label GENE-Y and GENE-N mentions as GENE.
    spans_key (str): the span group with every mention (overlapping ones too).
    limit (int): stop after this many abstracts (0 = all).
    """
    return ChemProtRelationCorpus(
        path, splitter=splitter, labels=labels, merge_gene_types=merge_gene_types,
        spans_key=spans_key, limit=limit,
    )


class ChemProtNERCorpus:
    """NER examples from ChemProt: one sentence per example (the splitter's),
    entities = the longest non-overlapping mentions (nested ones cannot be
    doc.ents; counted in n_nested after a pass)."""

    def __init__(
        self, path: PathT, *, splitter: Optional[SentenceSplitter] = None,
        merge_gene_types: bool = True, limit: int = 0,
    ) -> None:
        self.path = Path(path)
        self.splitter = splitter
        self.merge_gene_types = merge_gene_types
        self.limit = limit
        self.n_mentions = 0
        self.n_nested = 0
        if not self.path.exists():
            raise FileNotFoundError(Errors.E004.format(path=self.path))

    def __call__(self, nlp: Language) -> Iterator[Example]:
        from .extensions import install_extensions

        install_extensions()
        docs = read_chemprot_docs(
            self.path, nlp.vocab, splitter=self.splitter, make_doc=nlp.make_doc,
            merge_gene_types=self.merge_gene_types,
        )
        n = 0
        self.n_mentions = self.n_nested = 0
        for doc in docs:
            self.n_mentions += len(doc.spans[ENTITIES_SPANS_KEY])
            self.n_nested += len(doc.spans[ENTITIES_SPANS_KEY]) - len(doc.ents)
            for sent in doc.sents:
                if not sent.text.strip():
                    continue
                if self.limit and n >= self.limit:
                    return
                ref = sent.as_doc()
                yield Example(_tokens_copy(ref), ref)
                n += 1


@registry.readers("spacy-biobert.ChemProtNERCorpus.v1")
def create_chemprot_ner_corpus(
    path: Path, splitter: Optional[SentenceSplitter] = None,
    merge_gene_types: bool = True, limit: int = 0,
) -> ChemProtNERCorpus:
    """Registered reader: ChemProt sentences with CHEMICAL and GENE entities
    (GENE-Y / GENE-N unless merge_gene_types is false), for biobert_ner.

    path (Path): a split folder.
    limit (int): stop after this many sentences (0 = all).
    """
    return ChemProtNERCorpus(path, splitter=splitter, merge_gene_types=merge_gene_types, limit=limit)
