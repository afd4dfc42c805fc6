"""Relation extraction end to end: readers that give the relation extractor
gold entities and relations, the configs, evaluate-re, the 10-fold driver's
bookkeeping, and the raw-text ChemProt pipeline (NER + sentencizer +
relation extractor) saved, loaded with spacy.load and run with nlp.pipe."""

import json
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import spacy
from spacy.util import fix_random_seed, load_model_from_config
from thinc.api import Adam, Config

from spacy_biobert.apps.re_eval import (
    _CV_KEYS,
    CVSettings,
    evaluate_relations,
    markdown_table,
    read_examples,
)
from spacy_biobert.apps.runs import reuse_metrics
from spacy_biobert.relations.binary import BinaryRERecord
from spacy_biobert.relations.candidates import sentence_pairs
from spacy_biobert.relations.chemprot import (
    chemprot_pairs,
    read_chemprot_documents,
    read_chemprot_gold,
)
from spacy_biobert.relations.readers import (
    ENTITIES_SPANS_KEY,
    BinaryRERelationCorpus,
    ChemProtNERCorpus,
    ChemProtRelationCorpus,
    binary_record_to_relation_doc,
    chemprot_document_to_doc,
)

CONFIGS = Path(__file__).parent.parent / "configs"

# title + " " + abstract; offsets into that text
ABSTRACT = (
    "Aspirin inhibits COX-1.",
    "Caffeine activates RyR1 in cells. The aspirin-COX2 complex binds TP53.",
)
TEXT = ABSTRACT[0] + " " + ABSTRACT[1]


def _at(mention: str, after: int = 0):
    start = TEXT.index(mention, after)
    return start, start + len(mention)


# id, type, start, end
ENTITIES = [
    ("T1", "CHEMICAL", *_at("Aspirin")), ("T2", "GENE-Y", *_at("COX-1")),
    ("T3", "CHEMICAL", *_at("Caffeine")), ("T4", "GENE-N", *_at("RyR1")),
    # nested: aspirin inside aspirin-COX2
    ("T5", "CHEMICAL", *_at("aspirin")), ("T6", "GENE-Y", *_at("aspirin-COX2")),
    ("T7", "GENE-Y", *_at("TP53")),
]
GOLD = [
    ("CPR:4", "T1", "T2"), ("CPR:3", "T3", "T4"),
    ("CPR:4", "T1", "T7"),  # across sentences: never a candidate
    ("CPR:9", "T5", "T6"),  # overlapping mentions
]


def write_chemprot(folder: Path, pmid: str = "100") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = ABSTRACT[0] + " " + ABSTRACT[1]
    (folder / "x_abstracts.tsv").write_text(f"{pmid}\t{ABSTRACT[0]}\t{ABSTRACT[1]}\n", encoding="utf8")
    (folder / "x_entities.tsv").write_text("".join(
        f"{pmid}\t{i}\t{t}\t{s}\t{e}\t{text[s:e]}\n" for i, t, s, e in ENTITIES), encoding="utf8")
    (folder / "x_gold_standard.tsv").write_text("".join(
        f"{pmid}\t{label}\tArg1:{a}\tArg2:{b}\n" for label, a, b in GOLD), encoding="utf8")
    return folder


def keys(doc):
    return sorted(
        (r["head"]["start_char"], r["head"]["end_char"], r["tail"]["start_char"], r["tail"]["end_char"], r["label"])
        for r in doc._.relations
    )


# ---------------------------------------------------------------------------
# readers


def test_binary_record_to_relation_doc_entities_and_relation():
    nlp = spacy.blank("en")
    rec = BinaryRERecord("The @GENE$-related risk of @DISEASE$.", 1, line=3)
    doc = binary_record_to_relation_doc(nlp.vocab, rec, make_doc=nlp.make_doc)
    assert doc.text == rec.text
    assert [(e.text, e.label_) for e in doc.ents] == [("@GENE$", "GENE"), ("@DISEASE$", "DISEASE")]
    assert keys(doc) == [(4, 10, 27, 36, "1")]
    neg = binary_record_to_relation_doc(nlp.vocab, BinaryRERecord(rec.text, 0, 4), make_doc=nlp.make_doc)
    assert neg._.relations == []


def test_binary_corpus_predicted_has_entities_not_relations(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("@GENE$ causes @DISEASE$ .\t1\nno link of @GENE$ to @DISEASE$ .\t0\n", encoding="utf8")
    nlp = spacy.blank("en")
    examples = list(BinaryRERelationCorpus(path)(nlp))
    assert len(examples) == 2
    for eg in examples:
        assert [e.text for e in eg.predicted.ents] == ["@GENE$", "@DISEASE$"]
        assert not eg.predicted._.relations
    assert [len(eg.reference._.relations) for eg in examples] == [1, 0]


def test_binary_corpus_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("@GENE$ causes @DISEASE$ .\t1\nno tags here\t0\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"train\.tsv.*2|2.*train\.tsv"):
        list(BinaryRERelationCorpus(path)(spacy.blank("en")))


def test_chemprot_doc_entities_sentences_relations(tmp_path):
    folder = write_chemprot(tmp_path / "split")
    nlp = spacy.blank("en")
    (eg,) = list(ChemProtRelationCorpus(folder)(nlp))
    ref = eg.reference
    text = ref.text
    assert text == ABSTRACT[0] + " " + ABSTRACT[1]
    # every mention is in the span group with exact offsets; GENE-Y/N -> GENE
    group = [(s.start_char, s.end_char, s.label_) for s in ref.spans[ENTITIES_SPANS_KEY]]
    assert sorted(group) == sorted(
        (s, e, "CHEMICAL" if t == "CHEMICAL" else "GENE") for _, t, s, e in ENTITIES)
    # doc.ents cannot overlap: the nested chemical gives way to the longer gene
    assert (62, 69, "CHEMICAL") not in [(e.start_char, e.end_char, e.label_) for e in ref.ents]
    assert len(ref.ents) == len(ENTITIES) - 1
    assert [s.text for s in ref.sents] == ["Aspirin inhibits COX-1.", "Caffeine activates RyR1 in cells.",
                                           "The aspirin-COX2 complex binds TP53."]
    # all four gold relations are on the reference (the cross-sentence one too)
    assert len(ref._.relations) == 4
    # the predicted doc: same entities, span group and sentences, no relations
    pred = eg.predicted
    assert pred.text == text and not pred._.relations
    assert [(e.start_char, e.end_char) for e in pred.ents] == [(e.start_char, e.end_char) for e in ref.ents]
    assert len(pred.spans[ENTITIES_SPANS_KEY]) == len(ref.spans[ENTITIES_SPANS_KEY])
    assert [s.start for s in pred.sents] == [s.start for s in ref.sents]
    # candidates from the span group: chemical x gene within a sentence
    cands = sentence_pairs(pred, [("CHEMICAL", "GENE")], ENTITIES_SPANS_KEY)
    assert {(c.head.text, c.tail.text) for c in cands} == {
        ("Aspirin", "COX-1"), ("Caffeine", "RyR1"), ("aspirin", "aspirin-COX2"), ("aspirin", "TP53")}
    # without the group key: doc.ents only (the nested chemical is not there)
    assert len(sentence_pairs(pred, [("CHEMICAL", "GENE")])) == 2


def test_chemprot_candidates_match_chemprot_pairs_on_real_data(shared_data):
    """The docs give the relation extractor exactly the candidate pairs (and
    gold relations kept) that chemprot_pairs counts, on 30 real abstracts."""
    folder = shared_data / "re" / "chemprot" / "development"
    documents = read_chemprot_documents(
        folder / "chemprot_development_abstracts.tsv", folder / "chemprot_development_entities.tsv")
    subset = dict(list(documents.items())[:30])
    gold = [g for g in read_chemprot_gold(folder / "chemprot_development_gold_standard.tsv", documents)
            if g[0] in subset]
    pairs = chemprot_pairs(subset, gold)
    nlp = spacy.blank("en")
    n_cands = n_kept = 0
    for pmid, document in subset.items():
        doc = chemprot_document_to_doc(nlp.vocab, document, [g for g in gold if g[0] == pmid],
                                       make_doc=nlp.make_doc)
        cands = sentence_pairs(doc, [("CHEMICAL", "GENE")], ENTITIES_SPANS_KEY)
        n_cands += len(cands)
        cand_keys = {(c.head.start_char, c.head.end_char, c.tail.start_char, c.tail.end_char) for c in cands}
        n_kept += sum(k[:4] in cand_keys for k in keys(doc))
    assert n_cands == len(pairs)
    assert n_kept == sum(p.label != "false" for p in pairs for _ in p.gold_labels)


def test_chemprot_ner_corpus_sentences(tmp_path):
    folder = write_chemprot(tmp_path / "split")
    nlp = spacy.blank("en")
    corpus = ChemProtNERCorpus(folder)
    examples = list(corpus(nlp))
    assert [eg.reference.text.strip() for eg in examples] == [
        "Aspirin inhibits COX-1.", "Caffeine activates RyR1 in cells.", "The aspirin-COX2 complex binds TP53."]
    assert [(e.text, e.label_) for e in examples[2].reference.ents] == [("aspirin-COX2", "GENE"), ("TP53", "GENE")]
    assert not examples[0].predicted.ents
    assert corpus.n_mentions == 7 and corpus.n_nested == 1


# ---------------------------------------------------------------------------
# configs, training, evaluation


def re_nlp(config_name, base_model, **overrides):
    config = Config().from_disk(CONFIGS / config_name, overrides={"paths.base_model": str(base_model), **overrides})
    return load_model_from_config(config, auto_fill=True, validate=True)


def test_re_binary_config_trains_and_evaluates(tiny_bert, tmp_path):
    path = tmp_path / "train.tsv"
    lines = ["@GENE$ causes @DISEASE$ .\t1", "the @GENE$ is not associated with @DISEASE$ .\t0"] * 4
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    nlp = re_nlp("re_binary.cfg", tiny_bert, **{"paths.train": str(path), "paths.dev": str(path)})
    examples = read_examples(nlp, path, "binary")
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    assert nlp.get_pipe("relation_extractor").labels == ("1",)
    opt = Adam(0.005)
    for _ in range(30):
        nlp.update(examples, sgd=opt, drop=0.0)
    scores = evaluate_relations(nlp, examples, show_progress=False)
    assert scores["n_docs"] == 8 and scores["n_gold_relations"] == 4
    # positive-class P/R/F1 over the 8 sentences; learnable from the words
    assert scores["f"] == pytest.approx(1.0)
    table = markdown_table({**scores, "dataset": "gad", "protocol": "x", "model": "m", "metric": "m"})
    assert "| gad | 100.00 | 100.00 | 100.00 | 79.29 | 81.61 |" in table


def test_evaluate_relations_needs_a_relation_extractor():
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2608\]"):
        evaluate_relations(spacy.blank("en"), [])


def test_read_examples_bad_format(tmp_path):
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2609\]"):
        read_examples(spacy.blank("en"), tmp_path, "conll")


def test_cv_reuse_refuses_other_settings(tmp_path):
    done = tmp_path / "metrics.json"
    done.write_text(json.dumps({**CVSettings(steps=10).__dict__, "fold": 1, "p": 1, "r": 1, "f": 1}), encoding="utf8")
    assert reuse_metrics(done, asdict(CVSettings(steps=10)), _CV_KEYS)["f"] == 1
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2607\]"):
        reuse_metrics(done, asdict(CVSettings(steps=20)), _CV_KEYS)


# ---------------------------------------------------------------------------
# the raw-text ChemProt pipeline


@pytest.fixture(scope="module")
def chemprot_pipeline(tmp_path_factory):
    """transformer + ner (CHEMICAL, GENE), briefly trained, and relation_extractor,
    overfitted (60 updates), on the toy ChemProt split, assembled with
    configs/chemprot_pipeline.cfg, saved and loaded back with spacy.load."""
    from util import make_tiny_bert

    root = tmp_path_factory.mktemp("chemprot_pipeline")
    bert = make_tiny_bert(root / "bert", extra_words=["aspirin", "caffeine", "inhibits", "activates", "binds"])
    folder = write_chemprot(root / "split")
    fix_random_seed(0)
    paths = {"paths.train": str(folder), "paths.dev": str(folder)}
    ner = re_nlp("chemprot_ner.cfg", bert, **paths)
    ner_examples = list(ChemProtNERCorpus(folder)(ner))
    ner.initialize(lambda: ner_examples)
    opt = Adam(0.001)
    for _ in range(3):
        ner.update(ner_examples, sgd=opt)
    ner.to_disk(root / "ner")
    rel = re_nlp("re_chemprot.cfg", bert, **paths)
    rel_examples = list(ChemProtRelationCorpus(folder)(rel))
    rel.initialize(lambda: rel_examples)
    opt = Adam(0.002)
    for _ in range(60):
        rel.update(rel_examples, sgd=opt, drop=0.0)
    rel.to_disk(root / "re")
    config = Config().from_disk(
        CONFIGS / "chemprot_pipeline.cfg",
        overrides={"paths.ner_model": str(root / "ner"), "paths.re_model": str(root / "re")},
    )
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    nlp.to_disk(root / "pipeline")
    return spacy.load(root / "pipeline"), folder


def test_chemprot_pipeline_raw_text(chemprot_pipeline):
    nlp, _ = chemprot_pipeline
    assert nlp.pipe_names == ["transformer", "ner", "sentencizer", "relation_extractor"]
    assert set(nlp.get_pipe("relation_extractor").labels) == {"CPR:3", "CPR:4", "CPR:9"}
    texts = [ABSTRACT[0] + " " + ABSTRACT[1], "", "No entities at all here.", "aspirin " * 300]
    with warnings.catch_warnings():
        # the untrained NER may tag many of the 300 words: then W2301 (cap) is right
        warnings.filterwarnings("ignore", message=".*W2301")
        docs = list(nlp.pipe(texts, batch_size=2))
    # the sentencizer splits the abstract for the relation stage
    assert [s.text for s in docs[0].sents] == ["Aspirin inhibits COX-1.", "Caffeine activates RyR1 in cells.",
                                               "The aspirin-COX2 complex binds TP53."]
    assert docs[1]._.relations == [] and docs[1].ents == ()
    for text, doc in zip(texts, docs):
        assert doc.text == text
        for rec in doc._.relations:
            assert rec["label"] in ("CPR:3", "CPR:4", "CPR:9")
            assert doc.char_span(rec["head"]["start_char"], rec["head"]["end_char"]) is not None


def _with_ents(nlp, text, ents):
    doc = nlp.make_doc(text)
    doc.ents = [doc.char_span(s, e, label=label) for s, e, label in ents]
    return doc


def test_chemprot_pipeline_zero_one_many_entities(chemprot_pipeline):
    """The relation stage of the loaded pipeline on docs whose entities are
    given: 0 and 1 entities -> no relation; 40 chemicals x 40 genes in one
    sentence -> capped at max_pairs_per_sentence with warning W2301."""
    nlp, _ = chemprot_pipeline
    rel = nlp.get_pipe("relation_extractor")
    many = " ".join(f"aspirin{i} binds cox{i}" for i in range(40)) + "."
    ents = []
    pos = 0
    for i in range(40):
        a = many.index(f"aspirin{i} ", pos)
        ents.append((a, a + len(f"aspirin{i}"), "CHEMICAL"))
        b = many.index(f"cox{i}", a)
        ents.append((b, b + len(f"cox{i}"), "GENE"))
        pos = b
    docs = [
        _with_ents(nlp, "Nothing here.", []),
        _with_ents(nlp, "Aspirin alone.", [(0, 7, "CHEMICAL")]),
        _with_ents(nlp, many, ents),
    ]
    with nlp.select_pipes(enable=["sentencizer", "relation_extractor"]):
        with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2301\]"):
            out = list(nlp.pipe(docs))
    assert out[0]._.relations == [] and out[1]._.relations == []
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2301\]"):
        scores = rel.predict([out[2]])
    assert len(scores[0][0]) == rel.cfg["max_pairs_per_sentence"]
    # every pair classified goes from a chemical to a gene
    assert {(i.head.label_, i.tail.label_) for i in scores[0][0]} == {("CHEMICAL", "GENE")}
    assert all(r["head"]["label"] == "CHEMICAL" and r["tail"]["label"] == "GENE" for r in out[2]._.relations)


def test_chemprot_pipeline_end_to_end_evaluation(chemprot_pipeline):
    nlp, folder = chemprot_pipeline
    examples = read_examples(nlp, folder, "chemprot")
    gold = evaluate_relations(nlp, examples, show_progress=False)
    e2e = evaluate_relations(nlp, examples, predicted_entities=True, show_progress=False)
    # with the gold entities the overfitted relation stage finds the three
    # relations inside a sentence, never the cross-sentence one
    assert gold["n_gold_relations"] == 4 and gold["n_pred_relations"] == 3
    assert (gold["p"], gold["r"], gold["f"]) == (1.0, 0.75, pytest.approx(6 / 7))
    assert {t: (v["tp"], v["fn"]) for t, v in gold["per_type"].items()} == {
        "CPR:3": (1, 0), "CPR:4": (1, 1), "CPR:9": (1, 0)}
    # with the predicted entities every gold relation is still counted once
    assert e2e["n_gold_relations"] == 4
    assert sum(v["tp"] + v["fn"] for v in e2e["per_type"].values()) == 4
    assert set(e2e["entities"]) >= {"p", "r", "f", "tp", "fp", "fn"}
    assert e2e["entities"]["tp"] + e2e["entities"]["fn"] == 6


POSITIVE = "@GENE$ causes @DISEASE$ ."
NEGATIVE = "the @GENE$ is not associated with @DISEASE$ ."


def _write_fold(folder: Path, test_rows) -> None:
    """train.tsv: the learnable pattern; test.tsv (with its header): `test_rows`."""
    folder.mkdir(parents=True)
    train = [f"{POSITIVE}\t1", f"{NEGATIVE}\t0"] * 4
    (folder / "train.tsv").write_text("\n".join(train) + "\n", encoding="utf8")
    test = ["index\tsentence\tlabel"] + [f"{i}\t{text}\t{label}" for i, (text, label) in enumerate(test_rows)]
    (folder / "test.tsv").write_text("\n".join(test) + "\n", encoding="utf8")


def test_split_heldout_partitions_without_touching_the_file(tmp_path):
    from spacy_biobert.apps.re_eval import split_heldout

    train = tmp_path / "train.tsv"
    lines = [f"sentence {i} @GENE$ @DISEASE$\t{i % 2}" for i in range(20)]
    train.write_text("\n".join(lines) + "\n", encoding="utf8")
    before = train.read_bytes()
    fit, held = split_heldout(train, tmp_path / "sel", 0.25, seed=0)
    fit_lines, held_lines = fit.read_text().splitlines(), held.read_text().splitlines()
    assert len(held_lines) == 5 and len(fit_lines) == 15
    assert sorted(fit_lines + held_lines) == sorted(lines) and not set(fit_lines) & set(held_lines)
    assert fit_lines == [x for x in lines if x in fit_lines]  # each part keeps the file's order
    assert train.read_bytes() == before
    # the same seed: the same split; another seed: another one
    assert split_heldout(train, tmp_path / "again", 0.25, seed=0)[1].read_text().splitlines() == held_lines
    assert split_heldout(train, tmp_path / "other", 0.25, seed=1)[1].read_text().splitlines() != held_lines
    with pytest.raises(ValueError, match=r"\[E2671\]"):
        split_heldout(train, tmp_path / "x", 1.0, seed=0)
    test = tmp_path / "test.tsv"
    test.write_text("index\tsentence\tlabel\n0\ta\t1\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2670\]"):
        split_heldout(test, tmp_path / "y", 0.1, seed=0)


def test_split_heldout_keeps_sentences_with_unicode_separators_whole(tmp_path):
    """A sentence with U+2028, U+0085 or a form feed inside stays one record,
    as the reader sees it (str.splitlines would cut it in two), and Windows
    line ends are read like the reader reads them."""
    from spacy_biobert.apps.re_eval import split_heldout
    from spacy_biobert.relations.binary import read_binary_re

    train = tmp_path / "train.tsv"
    odd = ["@GENE$ in\u2028@DISEASE$", "@GENE$ \x85and @DISEASE$", "@GENE$\x0cof @DISEASE$", "@GENE$ x @DISEASE$"]
    train.write_bytes("".join(f"{text} {i}\t{i % 2}\r\n" for i in range(8) for text in odd).encode("utf8"))
    fit, held = split_heldout(train, tmp_path / "sel", 0.25, seed=0)
    records = [(r.text, r.label) for path in (fit, held) for r in read_binary_re(path)]
    assert sorted(records) == sorted((r.text, r.label) for r in read_binary_re(train))
    assert len(records) == 32


def test_run_cv_chooses_the_rate_on_held_out_training_sentences(tiny_bert, tmp_path):
    """Several rates: each fold trains at every rate on the fit part of its
    training file and scores the held-out part; the rate that learns the
    pattern (5e-3) beats one that cannot move the weights (1e-9) and trains
    the fold's model, for an epoch budget."""
    from spacy_biobert.apps.re_eval import run_cv

    data = tmp_path / "gad"
    (data / "1").mkdir(parents=True)
    train = [f"{POSITIVE}\t1", f"{NEGATIVE}\t0"] * 10
    (data / "1" / "train.tsv").write_text("\n".join(train) + "\n", encoding="utf8")
    test = ["index\tsentence\tlabel"] + [f"{i}\t{t}\t{y}" for i, (t, y) in enumerate([(POSITIVE, 1), (NEGATIVE, 0)] * 2)]
    (data / "1" / "test.tsv").write_text("\n".join(test) + "\n", encoding="utf8")
    settings = CVSettings(config=str(CONFIGS / "re_binary.cfg"), base_model=str(tiny_bert), epochs=6,
                          lr_grid=[1e-9, 5e-3], heldout_ratio=0.25, batch_size=4, threads=1)
    messages = []
    results = run_cv(data, tmp_path / "out", settings, echo=messages.append)
    fold = json.loads((tmp_path / "out" / "fold1" / "metrics.json").read_text(encoding="utf8"))
    held = (tmp_path / "out" / "fold1" / "lr_select" / "heldout.tsv").read_text().splitlines()
    assert len(held) == 5 and {x[-1] for x in held} == {"0", "1"}  # both classes held out
    assert fold["heldout_f1"]["0.005"] == 1.0 and fold["heldout_f1"]["1e-09"] < 1.0
    assert fold["chosen_learning_rate"] == 5e-3 and results["chosen_learning_rates"] == [5e-3]
    assert (fold["p"], fold["r"], fold["f"]) == (1.0, 1.0, 1.0)
    log = (tmp_path / "out" / "fold1" / "run.log").read_text(encoding="utf8")
    assert "--training.max_epochs 6 --training.max_steps 0" in log
    assert "initial_rate 0.005" in log and "fold1/lr_select" not in log
    sel_log = (tmp_path / "out" / "fold1" / "lr_select" / "lr1e-09" / "run.log").read_text(encoding="utf8")
    assert "lr_select/fit.tsv" in sel_log and "lr_select/heldout.tsv" in sel_log and "test.tsv" not in sel_log
    assert "chosen per fold among 1e-09/0.005" in (tmp_path / "out" / "cv_results.md").read_text(encoding="utf8")


def test_run_cv_resumes_and_averages(tiny_bert, tmp_path, monkeypatch):
    """The fold runner really trains (spacy train) and evaluates (evaluate-re)
    each fold on the tiny BERT; folds that are done are reused, not re-run; the
    table averages them and gives the every-sentence-positive baseline from
    each fold's counts."""
    from spacy_biobert.apps import re_eval
    from spacy_biobert.apps.re_eval import run_cv

    data = tmp_path / "gad"
    out = tmp_path / "out"
    # fold 1: the pattern of train.tsv holds (2 positive of 4); fold 2: one
    # "causes" sentence is labelled 0, so a model that learned the pattern has
    # P 3/4 there (3 positive of 7)
    _write_fold(data / "1", [(POSITIVE, 1), (NEGATIVE, 0), (POSITIVE, 1), (NEGATIVE, 0)])
    _write_fold(data / "2", [(POSITIVE, 1), (POSITIVE, 1), (POSITIVE, 0), (NEGATIVE, 0), (POSITIVE, 1), (NEGATIVE, 0),
                             (NEGATIVE, 0)])
    settings = CVSettings(config=str(CONFIGS / "re_binary.cfg"), base_model=str(tiny_bert), steps=30,
                          learning_rate=5e-3, batch_size=8, threads=1)
    trained = []
    real = re_eval.train_and_evaluate

    def spy(folder, *args, **kwargs):
        trained.append(folder.name)
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(re_eval, "train_and_evaluate", spy)
    messages = []
    # first only fold 1, as an interrupted run would leave it
    run_cv(data, out, settings, folds=[1], echo=messages.append)
    assert trained == ["fold1"] and "1 folds, 0 already done, 1 to go" in messages[0]
    fold1 = json.loads((out / "fold1" / "metrics.json").read_text(encoding="utf8"))
    assert (fold1["n_docs"], fold1["n_gold_relations"]) == (4, 2)
    # trained for real: the model learned the pattern of train.tsv
    assert (fold1["p"], fold1["r"], fold1["f"]) == (1.0, 1.0, 1.0)
    log = (out / "fold1" / "run.log").read_text(encoding="utf8")
    assert " -m spacy train " in log and " -m spacy_biobert evaluate-re " in log
    assert not (out / "fold1" / "train").exists()  # weights removed once scored
    # resume: fold 1 is reused (not retrained), fold 2 runs
    messages.clear()
    results = run_cv(data, out, settings, echo=messages.append)
    assert trained == ["fold1", "fold2"]
    assert "2 folds, 1 already done, 1 to go" in messages[0]
    assert json.loads((out / "fold1" / "metrics.json").read_text(encoding="utf8")) == fold1
    fold2 = json.loads((out / "fold2" / "metrics.json").read_text(encoding="utf8"))
    assert (fold2["n_docs"], fold2["n_gold_relations"]) == (7, 3)
    assert (fold2["p"], fold2["r"]) == (pytest.approx(3 / 4), 1.0)
    # the averages over the two folds
    assert results["p"] == pytest.approx((1 + 3 / 4) / 2)
    assert results["r"] == pytest.approx(1.0)
    assert results["f"] == pytest.approx((1 + 6 / 7) / 2)
    assert results["f_std"] == pytest.approx((1 - 6 / 7) / 2 ** 0.5)
    # the baseline: P = positives / sentences per fold (2/4 and 3/7), R = 1
    assert results["all_positive_baseline"]["p"] == pytest.approx((1 / 2 + 3 / 7) / 2)
    assert results["all_positive_baseline"]["r"] == 1.0
    assert results["all_positive_baseline"]["f"] == pytest.approx((2 / 3 + 3 / 5) / 2)
    assert json.loads((out / "cv_results.json").read_text(encoding="utf8"))["fold_ids"] == [1, 2]
    assert "every sentence positive" in (out / "cv_results.md").read_text(encoding="utf8")
    # a third run trains nothing and gives the same table
    again = run_cv(data, out, settings, echo=messages.append)
    assert trained == ["fold1", "fold2"]
    assert (again["p"], again["r"], again["f"]) == (results["p"], results["r"], results["f"])
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2607\]"):
        run_cv(data, out, replace(settings, steps=20), echo=lambda *a: None)
    assert trained == ["fold1", "fold2"]


def test_chemprot_pipeline_packaged_and_loaded_by_name(chemprot_pipeline, tmp_path):
    """`spacy package` of the assembled pipeline, installed, `spacy.load` by
    name in a new process: raw abstracts give doc._.relations; docs with 0, 1
    and 80 given entities go through the relation stage (0 and 1 -> none;
    80 in one sentence -> capped pairs, all CHEMICAL -> GENE)."""
    from util import package_and_run

    nlp, folder = chemprot_pipeline
    code = f"""
import json, warnings, spacy
nlp = spacy.load("en_biobert_chemprot_test")
texts = {[ABSTRACT[0] + " " + ABSTRACT[1], "", "aspirin " * 300]!r}
warnings.simplefilter("ignore")
docs = list(nlp.pipe(texts, batch_size=2))
def with_ents(text, ents):
    doc = nlp.make_doc(text)
    doc.ents = [doc.char_span(s, e, label=l) for s, e, l in ents]
    return doc
many = " ".join(f"aspirin{{i}} binds cox{{i}}" for i in range(40)) + "."
ents, pos = [], 0
for i in range(40):
    a = many.index(f"aspirin{{i}} ", pos); ents.append((a, a + len(f"aspirin{{i}}"), "CHEMICAL"))
    b = many.index(f"cox{{i}}", a); ents.append((b, b + len(f"cox{{i}}"), "GENE")); pos = b
given = [with_ents("Nothing here.", []), with_ents("Aspirin alone.", [(0, 7, "CHEMICAL")]), with_ents(many, ents)]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with nlp.select_pipes(enable=["sentencizer", "relation_extractor"]):
        out = list(nlp.pipe(given))
    scored = nlp.get_pipe("relation_extractor").predict([out[2]])[0][0]
    n_pairs = len(scored)
print(json.dumps({{
    "w010": any("W2301" in str(w.message) for w in caught), "n_pairs": n_pairs,
    "pipe": nlp.pipe_names, "name": nlp.meta["name"],
    "texts_equal": [d.text == t for d, t in zip(docs, texts)],
    "relations_are_lists": all(isinstance(d._.relations, list) for d in docs),
    "labels": sorted({{r["label"] for d in docs for r in d._.relations}}),
    "given": [len(d._.relations) for d in out],
    "given_types": sorted({{(r["head"]["label"], r["tail"]["label"]) for r in out[2]._.relations}}),
    "scored_types": sorted({{(i.head.label_, i.tail.label_) for i in scored}}),
    "cap": nlp.get_pipe("relation_extractor").cfg["max_pairs_per_sentence"],
}}))
"""
    result = package_and_run(folder.parent / "pipeline", "biobert_chemprot_test", tmp_path, code)
    assert result["pipe"] == ["transformer", "ner", "sentencizer", "relation_extractor"]
    assert result["name"] == "biobert_chemprot_test"
    assert result["texts_equal"] == [True, True, True] and result["relations_are_lists"]
    assert set(result["labels"]) <= {"CPR:3", "CPR:4", "CPR:9"}
    assert result["given"][:2] == [0, 0]
    assert result["w010"] and result["n_pairs"] == result["cap"]
    assert result["given"][2] <= result["cap"]
    assert result["given_types"] in ([], [["CHEMICAL", "GENE"]])
    assert result["scored_types"] == [["CHEMICAL", "GENE"]]  # every pair classified: chemical -> gene
