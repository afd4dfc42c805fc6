"""RE data and scoring: GAD / EU-ADR files, ChemProt documents, candidate
pairs, lost relations, marking, the RE scorers, and the real data sets."""

from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import spacy
from spacy.training import Example
from spacy.util import registry

from spacy_biobert.relations.binary import (
    BinaryRERecord,
    list_folds,
    read_binary_re,
    read_binary_re_fold,
)
from spacy_biobert.relations.chemprot import (
    ChemProtStats,
    Mention,
    chemprot_split_folder,
    create_sentencizer_splitter,
    mark_pair,
    merge_sentences,
    read_chemprot,
)
from spacy_biobert.relations.marking import mark_entities
from spacy_biobert.relations.scorer import binary_prf, chemprot_prf, cv_average


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf8")
    return path


# ---------------------------------------------------------------------------
# GAD / EU-ADR


def test_re_data_binary_both_layouts(tmp_path):
    train = _write(
        tmp_path / "1" / "train.tsv",
        "@GENE$ causes @DISEASE$.\t1\nNo link of @DISEASE$ to @GENE$ \"here\".\t0\n",
    )
    test = _write(
        tmp_path / "1" / "test.tsv",
        "index\tsentence\tlabel\n0\t@GENE$ and @DISEASE$.\t1\n1\t@DISEASE$, @GENE$.\t0\n",
    )
    assert list(read_binary_re(train)) == [
        BinaryRERecord("@GENE$ causes @DISEASE$.", 1, 1),
        BinaryRERecord('No link of @DISEASE$ to @GENE$ "here".', 0, 2),
    ]
    assert list(read_binary_re(test)) == [
        BinaryRERecord("@GENE$ and @DISEASE$.", 1, 2, 0),
        BinaryRERecord("@DISEASE$, @GENE$.", 0, 3, 1),
    ]
    fold = read_binary_re_fold(tmp_path, 1)
    assert [len(fold["train"]), len(fold["test"])] == [2, 2]
    assert list_folds(tmp_path) == [1]
    assert list(read_binary_re(_write(tmp_path / "dev.tsv", ""))) == []


# fmt: off
MALFORMED_BINARY = [
    ("@GENE$ x @DISEASE$.\t1\n@GENE$ no label @DISEASE$\n", 2, "E2301"),
    ("@GENE$ x @DISEASE$.\t1\n@GENE$ x\t@DISEASE$\t1\n", 2, "E2301"),
    ("@GENE$ x @DISEASE$.\t1\n\n", 2, "E2301"),
    ("@GENE$ x @DISEASE$.\tyes\n", 1, "E2302"),
    ("@GENE$ x @DISEASE$.\t1\n@GENE$ @GENE$ @DISEASE$.\t0\n", 2, "E2303"),
    ("@GENE$ x disease.\t0\n", 1, "E2303"),
    ("index\tsentence\tlabel\n0\t@GENE$ x @DISEASE$.\t1\n@GENE$ x @DISEASE$.\t1\n", 3, "E2301"),
    ("index\tsentence\tlabel\nx\t@GENE$ x @DISEASE$.\t1\n", 2, "E2301"),
]
# fmt: on


@pytest.mark.parametrize("text,line,code", MALFORMED_BINARY)
def test_re_data_binary_malformed_names_file_line(tmp_path, text, line, code):
    path = _write(tmp_path / "train.tsv", text)
    with pytest.raises(ValueError, match=rf"\(spacy-biobert\) \[{code}\]") as err:
        list(read_binary_re(path))
    assert f"{path}:{line}:" in str(err.value)


def test_re_data_binary_tag_check_optional(tmp_path):
    path = _write(tmp_path / "train.tsv", "no tags here\t0\n")
    assert [r.label for r in read_binary_re(path, tags=())] == [0]


def test_re_data_binary_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\(spacy-biobert\) \[E2001\]"):
        list(read_binary_re(tmp_path / "nope.tsv"))


# ---------------------------------------------------------------------------
# ChemProt, hand-made


TITLE = "Aspirin inhibits COX-1."
ABSTRACT = (
    "The glucose transporter binds ALB. Caffeine activates PKA and COX-1. "
    "Aspirin is old."
)
TEXT = TITLE + " " + ABSTRACT


def _entities(text: str) -> List[Tuple[str, str, int, int, str]]:
    """(id, type, start, end, text), located in the document text."""

    def find(mention: str, nth: int = 0) -> Tuple[int, int]:
        start = -1
        for _ in range(nth + 1):
            start = text.index(mention, start + 1)
        return start, start + len(mention)

    specs = [
        ("T1", "CHEMICAL", "Aspirin", 0),
        ("T2", "GENE-Y", "COX-1", 0),
        ("T3", "CHEMICAL", "glucose", 0),
        ("T4", "GENE-N", "glucose transporter", 0),
        ("T5", "GENE-Y", "ALB", 0),
        ("T6", "CHEMICAL", "Caffeine", 0),
        ("T7", "GENE-Y", "PKA", 0),
        ("T8", "GENE-Y", "COX-1", 1),
    ]
    return [(eid, typ, *find(m, nth), m) for eid, typ, m, nth in specs]


def _chemprot_folder(tmp_path: Path, gold: str, entities: str = "") -> Path:
    folder = tmp_path / "development"
    _write(folder / "chemprot_development_abstracts.tsv", f"111\t{TITLE}\t{ABSTRACT}\n")
    if not entities:
        entities = "".join(
            f"111\t{eid}\t{typ}\t{s}\t{e}\t{m}\n" for eid, typ, s, e, m in _entities(TEXT)
        )
    _write(folder / "chemprot_development_entities.tsv", entities)
    _write(folder / "chemprot_development_gold_standard.tsv", gold)
    return folder


GOLD = (
    "111\tCPR:4\tArg1:T1\tArg2:T2\n"  # same sentence: kept
    "111\tCPR:3\tArg1:T1\tArg2:T7\n"  # different sentences: lost
    "111\tCPR:3\tArg1:T6\tArg2:T7\n"  # two classes for one pair
    "111\tCPR:9\tArg1:T6\tArg2:T7\n"
    "111\tCPR:1\tArg1:T6\tArg2:T8\n"  # not an evaluated class
    "111\tCPR:6\tArg1:T3\tArg2:T4\n"  # nested mentions
)


def test_re_data_chemprot_pairs_and_stats(tmp_path):
    pairs, stats = read_chemprot(_chemprot_folder(tmp_path, GOLD))
    got = [(p.head.id, p.tail.id, p.label, p.gold_labels) for p in pairs]
    assert got == [
        ("T1", "T2", "CPR:4", ("CPR:4",)),
        ("T3", "T4", "CPR:6", ("CPR:6",)),
        ("T3", "T5", "false", ()),
        ("T6", "T7", "CPR:3", ("CPR:3", "CPR:9")),
        ("T6", "T8", "false", ()),
    ]
    assert stats.n_documents == 1 and stats.n_entities == 8
    assert stats.n_sentences == 4 and stats.n_sentences_merged == 0
    assert stats.n_gold_relations == 6 and stats.n_gold_ignored == 1
    assert stats.n_gold_kept == 4 and stats.n_gold_lost == 1
    assert stats.lost == [("111", "CPR:3", "T1", "T7")]
    assert stats.n_gold_pairs == 4 and stats.n_gold_pairs_multi_label == 1
    assert stats.n_pairs == 5 and stats.n_pairs_overlapping == 1
    assert stats.label_counts == {"CPR:3": 1, "CPR:4": 1, "CPR:6": 1, "false": 2}
    first = pairs[0]
    assert (first.pmid, first.sentence) == ("111", TITLE)
    assert TEXT[first.head.start : first.head.end] == "Aspirin"
    assert first.sentence[slice(*first.tail_span)] == "COX-1"
    assert first.to_dict()["head"]["type"] == "CHEMICAL"


def test_re_data_chemprot_skip_overlapping(tmp_path):
    pairs, stats = read_chemprot(_chemprot_folder(tmp_path, GOLD), skip_overlapping=True)
    assert ("T3", "T4") not in [(p.head.id, p.tail.id) for p in pairs]
    assert stats.n_pairs == 4 and stats.n_gold_lost_overlapping == 1
    assert stats.n_gold_kept == 3 and stats.n_gold_lost == 1


def test_re_data_chemprot_mark_pair(tmp_path):
    pairs, _ = read_chemprot(_chemprot_folder(tmp_path, GOLD))
    assert mark_pair(pairs[0]) == "@CHEMICAL$ inhibits @GENE$."
    # nested: the union of the two mentions becomes one tag
    assert mark_pair(pairs[1]) == "The @CHEM-GENE$ binds ALB."
    assert mark_pair(pairs[2]) == "The @CHEMICAL$ transporter binds @GENE$."
    assert mark_pair(pairs[4], head_tag="<c>", tail_tag="<g>") == "<c> activates PKA and <g>."


def test_re_data_mark_entities_order_and_bounds():
    text = "PKA binds caffeine"
    assert mark_entities(text, (10, 18), (0, 3)) == "@GENE$ binds @CHEMICAL$"
    assert mark_entities(text, (0, 9), (4, 18), overlap_tag="#") == "#"
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2312\]"):
        mark_entities(text, (10, 30), (0, 3))


def test_re_data_chemprot_offset_mismatch(tmp_path):
    rows = _entities(TEXT)
    entities = "".join(
        f"111\t{eid}\t{typ}\t{s}\t{e}\t{m if eid != 'T2' else 'COX-2'}\n"
        for eid, typ, s, e, m in rows
    )
    folder = _chemprot_folder(tmp_path, GOLD, entities)
    path = folder / "chemprot_development_entities.tsv"
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2305\]") as err:
        read_chemprot(folder)
    assert f"{path}:2:" in str(err.value) and "'COX-1'" in str(err.value)
    pairs, stats = read_chemprot(folder, strict=False)
    assert stats.n_entities_dropped == 1 and stats.n_gold_dropped == 1
    assert "T2" not in {p.tail.id for p in pairs}
    assert stats.n_gold_relations == 5


def test_re_data_chemprot_separator_matters(tmp_path):
    """Offsets index title + one character + abstract: dropping it breaks them."""
    folder = _chemprot_folder(tmp_path, GOLD)
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2305\]"):
        read_chemprot(folder, sep="")


# fmt: off
MALFORMED_CHEMPROT = [
    ("entities", "111\tT1\tCHEMICAL\t0\t7\n", 1, "E2301"),
    ("entities", "111\tT1\tDRUG\t0\t7\tAspirin\n", 1, "E2306"),
    ("entities", "222\tT1\tCHEMICAL\t0\t7\tAspirin\n", 1, "E2306"),
    ("entities", "111\tT1\tCHEMICAL\t0\t7\tAspirin\n111\tT1\tCHEMICAL\t0\t7\tAspirin\n", 2, "E2313"),
    ("entities", "111\tT1\tCHEMICAL\t7\t7\tAspirin\n", 1, "E2304"),
    ("entities", "111\tT1\tCHEMICAL\t0\t9999\tAspirin\n", 1, "E2304"),
    ("entities", "111\tT1\tCHEMICAL\tx\t7\tAspirin\n", 1, "E2304"),
    ("gold", "111\tCPR:4\tArg1:T1\n", 1, "E2301"),
    ("gold", "111\tCPR:4\tArg1:T1\tArg2:T2\n111\tCPR:4\tT1\tT2\n", 2, "E2301"),
    ("gold", "111\tCPR:4\tArg1:T1\tArg2:T99\n", 1, "E2307"),
    ("gold", "111\tCPR:4\tArg1:T2\tArg2:T1\n", 1, "E2307"),
    ("gold", "222\tCPR:4\tArg1:T1\tArg2:T2\n", 1, "E2306"),
    ("abstracts", "111\tA title\tAn abstract.\n111\tA title\tAgain.\n", 2, "E2313"),
    ("abstracts", "111\tA title only\n", 1, "E2301"),
]
# fmt: on


@pytest.mark.parametrize("which,content,line,code", MALFORMED_CHEMPROT)
def test_re_data_chemprot_malformed_names_file_line(tmp_path, which, content, line, code):
    folder = _chemprot_folder(tmp_path, GOLD)
    path = folder / f"chemprot_development_{'gold_standard' if which == 'gold' else which}.tsv"
    path.write_text(content, encoding="utf8")
    with pytest.raises(ValueError, match=rf"\(spacy-biobert\) \[{code}\]") as err:
        read_chemprot(folder)
    assert f"{path}:{line}:" in str(err.value)


def test_re_data_chemprot_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\(spacy-biobert\) \[E2001\]"):
        read_chemprot(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"\(spacy-biobert\) \[E2309\]"):
        read_chemprot(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2308\]"):
        chemprot_split_folder(tmp_path, "validation")


def test_re_data_merge_sentences_for_straddling_mention():
    sents = [(0, 10), (11, 20), (21, 30)]
    mention = Mention("T1", "CHEMICAL", 8, 13, "xx. y")
    assert merge_sentences(sents, [mention]) == ([(0, 20), (21, 30)], 1)
    assert merge_sentences(sents, [Mention("T2", "GENE-Y", 11, 20, "x")]) == (sents, 0)


def test_re_data_swappable_splitter(tmp_path):
    """A splitter that keeps the whole document as one sentence loses nothing."""
    folder = _chemprot_folder(tmp_path, GOLD)
    pairs, stats = read_chemprot(folder, splitter=lambda text: [(0, len(text))])
    assert stats.n_sentences == 1 and stats.n_gold_lost == 0
    assert stats.n_pairs == 3 * 5  # 3 chemical x 5 gene mentions
    splitter = registry.misc.get("spacy-biobert.sentencizer_splitter.v1")()
    assert splitter("It works. So  do I.") == [(0, 9), (10, 19)]
    assert create_sentencizer_splitter(punct_chars=["!"])("A. B! C") == [(0, 5), (6, 7)]


def test_re_data_registered_readers(tmp_path):
    nlp = spacy.blank("en")
    path = _write(tmp_path / "train.tsv", "@GENE$ causes @DISEASE$.\t1\n")
    corpus = registry.readers.get("spacy-biobert.BinaryRECorpus.v1")(path)
    (eg,) = list(corpus(nlp))
    assert eg.reference.text == "@GENE$ causes @DISEASE$."
    assert eg.reference.cats == {"0": 0.0, "1": 1.0}
    folder = _chemprot_folder(tmp_path, GOLD)
    corpus = registry.readers.get("spacy-biobert.ChemProtCorpus.v1")(folder, limit=4)
    egs = list(corpus(nlp))
    assert len(egs) == 4
    assert egs[0].reference.text == "@CHEMICAL$ inhibits @GENE$."
    assert egs[3].reference.cats == {
        "CPR:3": 1.0, "CPR:4": 0.0, "CPR:5": 0.0, "CPR:6": 0.0, "CPR:9": 1.0, "false": 0.0,
    }


# ---------------------------------------------------------------------------
# Scorers


def test_re_data_binary_prf():
    s = binary_prf([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["p"] == pytest.approx(2 / 3) and s["f"] == pytest.approx(2 / 3)
    assert binary_prf([0, 0], [0, 0])["f"] == 0.0
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2310\]"):
        binary_prf([1], [1, 0])


def test_re_data_chemprot_prf_wrong_positive_class():
    gold = ["CPR:3", "CPR:4", "false", "CPR:9", ["CPR:5", "CPR:6"], "false"]
    pred = ["CPR:3", "CPR:9", "CPR:4", "false", "CPR:5", "false"]
    s = chemprot_prf(gold, pred)
    # TP: 0, 4 (CPR:5). FP: 1 (CPR:9 for CPR:4), 2. FN: 1 (CPR:4), 3, 4 (CPR:6).
    assert (s["tp"], s["fp"], s["fn"]) == (2, 2, 3)
    assert s["p"] == pytest.approx(0.5) and s["r"] == pytest.approx(0.4)
    assert s["f"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert s["per_type"]["CPR:4"] == {"p": 0.0, "r": 0.0, "f": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert "false" not in s["per_type"]


def test_re_data_cv_average_is_mean_of_folds():
    folds = [{"p": 1.0, "r": 0.5, "f": 2 / 3}, {"p": 0.5, "r": 0.5, "f": 0.5}]
    s = cv_average(folds)
    assert s["p"] == pytest.approx(0.75) and s["r"] == pytest.approx(0.5)
    assert s["f"] == pytest.approx((2 / 3 + 0.5) / 2)  # not F1 of the mean P and R (0.6)
    assert s["p_std"] == pytest.approx(0.5**0.5 * 0.5)
    assert s["folds"] == folds
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2311\]"):
        cv_average([])


def _cats_example(nlp, gold: Dict[str, float], pred: Dict[str, float]) -> Example:
    ref = nlp.make_doc("x")
    ref.cats = gold
    doc = nlp.make_doc("x")
    doc.cats = pred
    return Example(doc, ref)


def test_re_data_registered_scorers():
    nlp = spacy.blank("en")
    score = registry.scorers.get("spacy-biobert.re_binary_scorer.v1")()
    egs = [
        _cats_example(nlp, {"1": 1.0, "0": 0.0}, {"1": 0.9, "0": 0.1}),
        _cats_example(nlp, {"1": 1.0, "0": 0.0}, {"1": 0.2, "0": 0.8}),
        _cats_example(nlp, {"1": 0.0, "0": 1.0}, {"1": 0.6, "0": 0.4}),
    ]
    s = score(egs)
    assert (s["re_p"], s["re_r"], s["re_f"]) == (0.5, 0.5, 0.5)
    labels = ["CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false"]

    def cats(label: str) -> Dict[str, float]:
        return {k: float(k == label) for k in labels}

    score = registry.scorers.get("spacy-biobert.chemprot_scorer.v1")()
    egs = [
        _cats_example(nlp, cats("CPR:4"), cats("CPR:9")),
        _cats_example(nlp, cats("CPR:3"), cats("CPR:3")),
        _cats_example(nlp, cats("false"), cats("false")),
    ]
    s = score(egs)
    assert s["re_micro_p"] == 0.5 and s["re_micro_r"] == 0.5
    assert s["re_per_type"]["CPR:9"]["fp"] == 1


# ---------------------------------------------------------------------------
# Real data (../shared/data/re)

# fmt: off
# per fold 1..10: (train, test) records and (train, test) positives
GAD_FOLDS = [
    (4796, 534, 2520, 281), (4797, 533, 2521, 280), (4797, 533, 2521, 280),
    (4797, 533, 2521, 280), (4797, 533, 2521, 280), (4797, 533, 2521, 280),
    (4797, 533, 2521, 280), (4797, 533, 2521, 280), (4797, 533, 2521, 280),
    (4798, 532, 2521, 280),
]
EUADR_FOLDS = [
    (318, 37, 235, 27), (318, 37, 235, 27), (319, 36, 236, 26),
    (320, 35, 236, 26), (320, 35, 236, 26), (320, 35, 236, 26),
    (320, 35, 236, 26), (320, 35, 236, 26), (320, 35, 236, 26),
    (320, 35, 236, 26),
]
# sentences, merged boundaries, pairs, overlapping pairs, gold relations,
# kept, lost (different sentences), multi-label pairs, label counts
CHEMPROT = {
    "train": (10284, 15, 18654, 1647, 4157, 4135, 22, 10,
              {"CPR:3": 765, "CPR:4": 2233, "CPR:5": 173, "CPR:6": 234, "CPR:9": 720,
               "false": 14529}),
    "dev": (6226, 14, 11560, 946, 2416, 2412, 4, 4,
            {"CPR:3": 548, "CPR:4": 1090, "CPR:5": 116, "CPR:6": 197, "CPR:9": 457,
             "false": 9152}),
    "test": (8119, 18, 16163, 1373, 3458, 3452, 6, 14,
             {"CPR:3": 665, "CPR:4": 1660, "CPR:5": 190, "CPR:6": 280, "CPR:9": 643,
              "false": 12725}),
}
# fmt: on


@pytest.mark.parametrize("name,want", [("gad", GAD_FOLDS), ("euadr", EUADR_FOLDS)])
def test_re_data_real_binary_folds(shared_data, name, want):
    root = shared_data / "re" / name
    assert list_folds(root) == list(range(1, 11))
    all_tests = []
    for fold, (n_train, n_test, pos_train, pos_test) in zip(range(1, 11), want):
        data = read_binary_re_fold(root, fold)
        train, test = data["train"], data["test"]
        assert (len(train), len(test)) == (n_train, n_test), (name, fold)
        assert sum(r.label for r in train) == pos_train, (name, fold)
        assert sum(r.label for r in test) == pos_test, (name, fold)
        assert [r.index for r in test] == list(range(len(test)))
        all_tests.extend((r.text, r.label) for r in test)
    # the test folds partition the data set: each fold's train is the rest
    assert len(all_tests) == n_train + n_test


_CHEMPROT_CACHE: Dict[str, Tuple[list, ChemProtStats]] = {}


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_re_data_real_chemprot(shared_data, split):
    if split not in _CHEMPROT_CACHE:
        folder = chemprot_split_folder(shared_data / "re" / "chemprot", split)
        _CHEMPROT_CACHE[split] = read_chemprot(folder)
    pairs, stats = _CHEMPROT_CACHE[split]
    n_sents, n_merged, n_pairs, n_overlap, n_gold, kept, lost, multi, labels = CHEMPROT[split]
    assert stats.n_entities_dropped == 0  # every offset matches its text
    assert (stats.n_sentences, stats.n_sentences_merged) == (n_sents, n_merged)
    assert (stats.n_pairs, stats.n_pairs_overlapping) == (n_pairs, n_overlap)
    assert (stats.n_gold_relations, stats.n_gold_kept, stats.n_gold_lost) == (n_gold, kept, lost)
    assert stats.n_gold_ignored == 0 and len(stats.lost) == lost
    assert stats.n_gold_pairs_multi_label == multi
    assert stats.label_counts == labels and len(pairs) == n_pairs
    for pair in pairs[:2000]:
        assert pair.sent_start <= pair.head.start < pair.head.end <= pair.sent_end
        assert pair.sent_start <= pair.tail.start < pair.tail.end <= pair.sent_end
        marked = mark_pair(pair)
        assert (marked.count("@CHEMICAL$"), marked.count("@GENE$")) in ((1, 1), (0, 0))
