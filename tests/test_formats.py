"""The NER corpus formats (ner/conll, pubtator, bioc, brat, offsets, corpus):
hand-written fixtures with a mention that cuts a token, nested and
overlapping mentions, a discontinuous mention and malformed lines; the
NCBI-disease PubTator files of the mirror (no mention dropped); NERCorpus.v1
= IOBCorpus.v1 on IOB input; convert round trip; evaluate by offsets."""

import json
import warnings
from pathlib import Path

import pytest
import spacy
from spacy.util import registry

from spacy_biobert.apps.convert import convert_corpus
from spacy_biobert.apps.evaluate import evaluate_ner, evaluate_ner_offsets
from spacy_biobert.cli import app
from spacy_biobert.ner.bioc import read_bioc_json, read_bioc_xml
from spacy_biobert.ner.brat import read_brat
from spacy_biobert.ner.conll import read_conll_sentences
from spacy_biobert.ner.corpus import NERCorpus, detect_format, read_ner_docs
from spacy_biobert.ner.offsets import SPANS_KEY, ReaderSummary
from spacy_biobert.ner.pubtator import read_pubtator
from spacy_biobert.ner.readers import IOBCorpus

TITLE = "Hereditary breast cancer in adenocarcinomas."
ABSTRACT = "No APC mutations were found."
TEXT = f"{TITLE} {ABSTRACT}"
# (start, end, type): nested (breast cancer in Hereditary breast cancer), one
# cutting a token (carcinoma in adenocarcinomas), another type (APC)
MENTIONS = [
    (0, 24, "Disease"), (11, 24, "Disease"),
    (TEXT.index("carcinoma"), TEXT.index("carcinoma") + 9, "Disease"),
    (TEXT.index("APC"), TEXT.index("APC") + 3, "Gene"),
]


def pubtator_text() -> str:
    lines = [f"100|t|{TITLE}", f"100|a|{ABSTRACT}"]
    lines += [f"100\t{s}\t{e}\t{TEXT[s:e]}\t{t}\tC{i}" for i, (s, e, t) in enumerate(MENTIONS)]
    lines += ["100\tCID\tC0\tC3", "", "200|t|Normal text.", "200|a|", "200\t50\t60\tghost\tDisease\tX", ""]
    return "\n".join(lines) + "\n"


def ents(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture
def pubtator(tmp_path):
    path = tmp_path / "corpus.pubtator"
    path.write_text(pubtator_text(), encoding="utf8")
    return path


# ---------------------------------------------------------------------------
# offsets: aligned, split, reported, overlapping; never dropped


def test_pubtator_offsets_split_nested_reported(pubtator, nlp):
    summary = ReaderSummary()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_ner_docs(pubtator, nlp, summary=summary))
    assert [d.text for d in docs] == [TEXT, "Normal text. "]  # title + " " + (empty) abstract
    # the token 'adenocarcinomas' is split so that 'carcinoma' aligns
    assert [t.text for t in docs[0]][4:8] == ["adeno", "carcinoma", "s", "."]
    # every mention in the span group, the flat longest-first choice in doc.ents
    assert sorted((s.start_char, s.end_char, s.label_) for s in docs[0].spans[SPANS_KEY]) == sorted(MENTIONS)
    assert ents(docs[0]) == [MENTIONS[0], MENTIONS[2], MENTIONS[3]]
    assert summary.as_dict() == {
        "documents": 2, "mentions": 5, "aligned": 3, "split": 1, "reported": 1,
        "overlapping": 1, "discontinuous": 0,
    }
    reported = [str(w.message) for w in caught if "W2201" in str(w.message)]
    assert len(reported) == 1 and "'200'" in reported[0] and "50-60" in reported[0]


def test_pubtator_labels_untyped_and_filter(pubtator, nlp):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        untyped = list(read_ner_docs(pubtator, nlp, untyped=True, untyped_label=""))
        only = list(read_ner_docs(pubtator, nlp, untyped=True, untyped_label="", types={"Gene": "Gene"}))
    assert {e.label_ for e in untyped[0].ents} == {"ENTITY"}  # two types -> ENTITY
    assert ents(only[0]) == [(MENTIONS[3][0], MENTIONS[3][1], "Gene")]  # one type -> its name


def test_pubtator_malformed_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.pubtator"
    bad.write_text(f"100|t|{TITLE}\n100\tx\t5\tfoo\tDisease\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2208\] .*bad.pubtator:2: malformed PubTator line"):
        list(read_pubtator(bad))


# ---------------------------------------------------------------------------
# BioC XML and JSON, BRAT: the same documents; discontinuous mentions


def bioc_json() -> dict:
    def ann(i, s, e, t, locs=None):
        return {"id": str(i), "infons": {"type": t}, "text": TEXT[s:e],
                "locations": locs or [{"offset": s, "length": e - s}]}

    title_anns = [ann(i, s, e, t) for i, (s, e, t) in enumerate(MENTIONS) if e <= len(TITLE)]
    title_anns.append(ann(9, 0, 24, "Disease", [{"offset": 0, "length": 10}, {"offset": 18, "length": 6}]))
    return {"source": "test", "documents": [{"id": "100", "passages": [
        {"offset": 0, "infons": {"type": "title"}, "text": TITLE, "annotations": title_anns},
        {"offset": len(TITLE) + 1, "infons": {"type": "abstract"}, "text": ABSTRACT,
         "annotations": [ann(3, *MENTIONS[3])]},
    ]}]}


def bioc_xml(data: dict) -> str:
    out = ["<?xml version='1.0' encoding='UTF-8'?>", '<!DOCTYPE collection SYSTEM "BioC.dtd">', "<collection><source>test</source>"]
    for doc in data["documents"]:
        out.append(f"<document><id>{doc['id']}</id>")
        for p in doc["passages"]:
            out.append(f"<passage><infon key=\"type\">{p['infons']['type']}</infon><offset>{p['offset']}</offset><text>{p['text']}</text>")
            for a in p["annotations"]:
                locs = "".join(f'<location offset="{loc["offset"]}" length="{loc["length"]}"/>' for loc in a["locations"])
                out.append(f"<annotation id=\"{a['id']}\"><infon key=\"type\">{a['infons']['type']}</infon>{locs}<text>{a['text']}</text></annotation>")
            out.append("</passage>")
        out.append("</document>")
    return "\n".join(out + ["</collection>"])


BRAT_ANN = "\n".join([f"T{i}\t{t} {s} {e}\t{TEXT[s:e]}" for i, (s, e, t) in enumerate(MENTIONS)] + [
    "T9\tDisease 0 10;18 24\tHereditary cancer", "R1\tAssoc Arg1:T0 Arg2:T3", "A1\tNegated T3", "#1\tAnnotatorNotes T0\tnote",
]) + "\n"


@pytest.fixture
def offset_corpora(tmp_path):
    data = bioc_json()
    (tmp_path / "c.json").write_text(json.dumps(data), encoding="utf8")
    (tmp_path / "c.xml").write_text(bioc_xml(data), encoding="utf8")
    brat = tmp_path / "brat"
    brat.mkdir()
    (brat / "100.txt").write_text(TEXT, encoding="utf8")
    (brat / "100.ann").write_text(BRAT_ANN, encoding="utf8")
    return {"bioc-json": tmp_path / "c.json", "bioc-xml": tmp_path / "c.xml", "brat": brat}


def test_bioc_and_brat_read_the_same_documents(offset_corpora, nlp):
    expected = sorted(MENTIONS + [(0, 10, "Disease"), (18, 24, "Disease")])
    for fmt, path in offset_corpora.items():
        assert detect_format(path) == fmt
        counts = {"discontinuous": 0}
        reader = {"bioc-json": read_bioc_json, "bioc-xml": read_bioc_xml, "brat": read_brat}[fmt]
        (doc,) = list(reader(path, counts))
        assert (doc.id, doc.text, sorted(doc.mentions)) == ("100", TEXT, expected), fmt
        assert counts == {"discontinuous": 1}, fmt
        summary = ReaderSummary()
        (gold,) = list(read_ner_docs(path, nlp, summary=summary))
        assert len(gold.spans[SPANS_KEY]) == 6, fmt
        assert ents(gold) == [MENTIONS[0], MENTIONS[2], MENTIONS[3]], fmt
        assert (summary.mentions, summary.split, summary.reported, summary.overlapping, summary.discontinuous) == (6, 1, 0, 3, 1), fmt


def test_bioc_xml_refuses_entities_and_bad_xml(tmp_path):
    evil = tmp_path / "evil.xml"
    evil.write_text('<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaaaaaaaa">]><collection>&a;</collection>', encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2211\] .*evil.xml: not valid BioC XML"):
        list(read_bioc_xml(evil))
    broken = tmp_path / "broken.xml"
    broken.write_text("<collection><document>", encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2211\] .*broken.xml: not valid BioC XML"):
        list(read_bioc_xml(broken))


def test_brat_malformed_line_names_file_and_line(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf8")
    (tmp_path / "a.ann").write_text("T1\tDisease 0 10\tHereditar\nT2\tDisease zero 5\tx\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2208\] .*a.ann:2: malformed BRAT line"):
        list(read_brat(tmp_path))


# ---------------------------------------------------------------------------
# CoNLL columns; format detection


CONLL = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n. . O O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
)


def test_conll_multicolumn_space_separated(tmp_path, nlp):
    path = tmp_path / "eng.conll"
    path.write_text(CONLL, encoding="utf8")
    assert detect_format(path) == "conll"
    docs = list(read_ner_docs(path, nlp))
    assert [[(e.text, e.label_) for e in d.ents] for d in docs] == [
        [("EU", "ORG"), ("German", "MISC")], [("Peter Blackburn", "PER")],
    ]
    chunks = list(read_conll_sentences(path, tag_column=2))
    assert chunks[0].tags == ["B-NP", "B-VP", "B-NP", "I-NP", "O"]
    bad = tmp_path / "bad.conll"
    bad.write_text("EU NNP B-NP B-ORG\nrejects O\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2208\] .*bad.conll:2: malformed CoNLL line"):
        list(read_conll_sentences(bad))


def test_unknown_format_lists_the_valid_ones(pubtator):
    with pytest.raises(ValueError, match=r"\[E2209\] .*'xls'.*iob, conll, spacy, pubtator, bioc-xml, bioc-json, brat"):
        NERCorpus(pubtator, format="xls")


# ---------------------------------------------------------------------------
# the mirror: NERCorpus.v1 = IOBCorpus.v1 on IOB; NCBI-disease PubTator counts


@pytest.mark.parametrize("untyped,group", [(True, False), (False, True)])
def test_ner_corpus_is_iob_corpus_on_iob(shared_data, nlp, untyped, group):
    path = shared_data / "ner" / "ncbi_disease" / "dev.tsv"
    args = {"group_documents": group, "untyped": untyped, "untyped_label": "", "limit": 0}
    old = list(registry.readers.get("spacy-biobert.IOBCorpus.v1")(path, **args)(nlp))
    new = list(registry.readers.get("spacy-biobert.NERCorpus.v1")(path, format="auto", **args)(nlp))
    assert len(new) == len(old) > 0
    for a, b in zip(old, new):
        for x, y in ((a.reference, b.reference), (a.predicted, b.predicted)):
            assert [t.text for t in x] == [t.text for t in y]
            assert [(e.start, e.end, e.label_) for e in x.ents] == [(e.start, e.end, e.label_) for e in y.ents]
    assert isinstance(IOBCorpus(path), IOBCorpus)


@pytest.mark.parametrize("split,n_docs,n_mentions", [("train", 593, 5145), ("dev", 100, 787), ("test", 100, 960)])
def test_ncbi_disease_pubtator_no_mention_dropped(shared_data, nlp, split, n_docs, n_mentions):
    corpus = NERCorpus(shared_data / "ner_raw" / "ncbi_disease" / f"{split}.pubtator")
    assert corpus.format == "pubtator"
    examples = list(corpus(nlp))
    s = corpus.summary
    assert (len(examples), s.documents, s.mentions) == (n_docs, n_docs, n_mentions)
    assert s.aligned + s.split == n_mentions and s.reported == 0
    assert sum(len(eg.reference.spans[SPANS_KEY]) for eg in examples) + s.overlapping == n_mentions


# ---------------------------------------------------------------------------
# convert round trip; evaluate


def test_convert_round_trip_through_spacy_corpus(pubtator, tmp_path, nlp):
    out = tmp_path / "out.spacy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n_docs, n_ents, summary = convert_corpus(pubtator, out)
        read = list(read_ner_docs(pubtator, nlp))
    assert (n_docs, n_ents, summary.split, summary.reported) == (2, 3, 1, 1)
    spacy_corpus = registry.readers.get("spacy.Corpus.v1")
    back = list(spacy_corpus(out, gold_preproc=False, max_length=0, limit=0, augmenter=None)(nlp))
    assert [ents(eg.reference) for eg in back] == [ents(d) for d in read]
    assert [t.text for t in back[0].reference] == [t.text for t in read[0]]
    assert len(back[0].reference.spans[SPANS_KEY]) == 4
    assert detect_format(out) == "spacy"
    assert [ents(eg.reference) for eg in NERCorpus(out)(nlp)] == [ents(d) for d in read]


def test_cli_convert_prints_summary(pubtator, tmp_path):
    from typer.testing import CliRunner

    with pytest.warns(UserWarning, match="W2201"):  # the mention outside its text
        result = CliRunner().invoke(app, ["convert", str(pubtator), str(tmp_path / "o.spacy"), "--format", "pubtator"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "2 documents, 5 mentions: 3 aligned" in text and "1 aligned by splitting a token, 1 reported" in text
    assert "Wrote 2 docs with 3 entities" in text


# The tiny trained pipeline (conftest.trained_ner_dir) finds, on util.TRAIN_DATA's
# sentences: 'familial adenomatous polyposis', 'cancer syndrome' (wrong: gold says
# 'hereditary cancer syndrome'), 'breast cancer', 'colorectal cancer',
# 'ovarian cancer'. Gold: 5 mentions, 4 found, 1 false positive -> P = R = 0.8.
EVAL_DOCS = [
    ("1", "familial adenomatous polyposis is a hereditary cancer syndrome .",
     [("familial adenomatous polyposis", "Disease"), ("hereditary cancer syndrome", "Disease")]),
    ("2", "women with breast cancer were observed .", [("breast cancer", "Disease")]),
    ("3", "patients with colorectal cancer and ovarian cancer", [("colorectal cancer", "Disease"), ("ovarian cancer", "Cancer")]),
]


def write_eval_corpora(folder: Path) -> dict:
    lines, brat = [], folder / "brat"
    brat.mkdir()
    for doc_id, text, mentions in EVAL_DOCS:
        lines.append(f"{doc_id}|t|{text}")
        ann = []
        for i, (m, label) in enumerate(mentions):
            s = text.index(m)
            lines.append(f"{doc_id}\t{s}\t{s + len(m)}\t{m}\t{label}\tX")
            ann.append(f"T{i}\t{label} {s} {s + len(m)}\t{m}")
        lines.append("")
        (brat / f"{doc_id}.txt").write_text(text, encoding="utf8")
        (brat / f"{doc_id}.ann").write_text("\n".join(ann) + "\n", encoding="utf8")
    (folder / "test.pubtator").write_text("\n".join(lines) + "\n", encoding="utf8")
    docs = [{"id": d, "passages": [{"offset": 0, "text": t, "annotations": [
        {"infons": {"type": lab}, "locations": [{"offset": t.index(m), "length": len(m)}]} for m, lab in ms
    ]}]} for d, t, ms in EVAL_DOCS]
    (folder / "test.json").write_text(json.dumps({"documents": docs}), encoding="utf8")
    return {"pubtator": folder / "test.pubtator", "brat": brat, "bioc-json": folder / "test.json"}


def test_evaluate_by_offsets(trained_ner_dir, tmp_path):
    nlp = spacy.load(trained_ner_dir)
    assert [e.text for e in nlp(EVAL_DOCS[0][1]).ents] == ["familial adenomatous polyposis", "cancer syndrome"]
    for fmt, path in write_eval_corpora(tmp_path).items():
        res = evaluate_ner_offsets(nlp, path, fmt, show_progress=False)
        assert (res["n_documents"], res["n_gold_entities"], res["n_pred_entities"]) == (3, 5, 5), fmt
        assert res["precision"] == pytest.approx(0.8) and res["recall"] == pytest.approx(0.8), fmt
        assert res["f1"] == pytest.approx(0.8), fmt
        # typed: 'ovarian cancer' is a Cancer in the gold, a Disease in the prediction
        assert res["typed"]["f1"] == pytest.approx(0.6), fmt
        assert res["typed"]["per_type"]["Cancer"]["r"] == 0.0, fmt


def test_cli_evaluate_offsets_and_spacy_token_format(trained_ner_dir, tmp_path):
    from typer.testing import CliRunner

    path = write_eval_corpora(tmp_path)["pubtator"]
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(app, ["evaluate", str(trained_ner_dir), str(path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text(encoding="utf8"))
    assert scores["format"] == "pubtator" and scores["f1"] == pytest.approx(0.8)
    assert scores["metric"].startswith("character offsets")
    # a token format: .spacy scores as its IOB source does
    iob = tmp_path / "t.tsv"
    iob.write_text("women\tO\nwith\tO\nbreast\tB-Disease\ncancer\tI-Disease\n\nthe\tO\napc\tB-Gene\n", encoding="utf8")
    convert_corpus(iob, tmp_path / "t.spacy")
    nlp = spacy.load(trained_ner_dir)
    a = evaluate_ner(nlp, iob, show_progress=False)
    b = evaluate_ner(nlp, tmp_path / "t.spacy", fmt="spacy", show_progress=False)
    assert (a["precision"], a["recall"], a["f1"]) == (b["precision"], b["recall"], b["f1"])
    assert a["recall"] == pytest.approx(0.5)
