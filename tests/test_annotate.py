"""`spacy-biobert annotate` on a tiny (untrained) NER pipeline built offline."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spacy.language import Language
from spacy.tokens import Doc
from util import make_texts, read_records, strip_confidence
from util import run_annotate as run

from spacy_biobert.apps.annotate import (
    detect_format,
    read_done_ids,
    read_pubmed,
)

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def nlp(ner_dir):
    import spacy

    return spacy.load(ner_dir)


def test_annotate_detect_format(tmp_path):
    assert detect_format(Path("a.txt")) == "lines"
    assert detect_format(Path("a.jsonl.gz")) == "jsonl"
    assert detect_format(Path("pubmed24n0001.xml.gz")) == "pubmed"
    assert detect_format(Path("a.dat"), "text") == "text"
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2614\]"):
        detect_format(Path("a.dat"))
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2612\]"):
        detect_format(Path("a.txt"), "csv")


@pytest.fixture(scope="module")
def trained_nlp(trained_ner_dir):
    import spacy

    return spacy.load(trained_ner_dir)


def test_annotate_lines(trained_nlp, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("women with breast cancer were observed .\n\npatients with colorectal cancer\n", encoding="utf8")
    stats, messages = run(trained_nlp, inp, tmp_path / "out.jsonl", include_text=True)
    records = read_records(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["1", "2", "3"]
    assert records[1] == {"id": "2", "text": "", "entities": []}
    assert records[0]["text"] == "women with breast cancer were observed ."
    # the overfitted model finds its training diseases; offsets point into the text
    found = [[(e["start_char"], e["end_char"], e["text"], e["label"]) for e in r["entities"]] for r in records]
    assert found == [[(11, 24, "breast cancer", "Disease")], [], [(14, 31, "colorectal cancer", "Disease")]]
    for rec in records:
        for ent in rec["entities"]:
            assert rec["text"][ent["start_char"]:ent["end_char"]] == ent["text"]
            assert 0.5 < ent["confidence"] <= 1
    assert stats.annotated == 3 and stats.bad == 0 and not messages


def test_annotate_folder_prefixes_line_ids(nlp, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.txt").write_text("cancer\n", encoding="utf8")
    (tmp_path / "in" / "a.txt.gz").write_bytes(gzip.compress(b"women\npatients\n"))
    (tmp_path / "in" / "skip.jsonl").write_text("{}\n", encoding="utf8")
    stats, messages = run(nlp, tmp_path / "in", tmp_path / "out.jsonl", fmt="lines")
    assert [r["id"] for r in read_records(tmp_path / "out.jsonl")] == ["a.txt.gz:1", "a.txt.gz:2", "b.txt:1"]
    assert not messages


def test_annotate_text_blocks(nlp, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("women with\nbreast cancer\n\n\npatients .\n", encoding="utf8")
    run(nlp, inp, tmp_path / "out.jsonl", fmt="text", include_text=True)
    records = read_records(tmp_path / "out.jsonl")
    assert [(r["id"], r["text"]) for r in records] == [("1", "women with\nbreast cancer"), ("5", "patients .")]
    run(nlp, inp, tmp_path / "o2.jsonl", fmt="text")
    assert "text" not in read_records(tmp_path / "o2.jsonl")[0]


def test_annotate_jsonl_bad_records(nlp, tmp_path):
    lines = [
        json.dumps({"pmid": "a", "abstract": "women with breast cancer"}),
        "{not json",
        json.dumps({"pmid": "b"}),
        json.dumps({"pmid": "", "abstract": "x"}),
        json.dumps({"pmid": "c", "abstract": ["x"]}),
        json.dumps({"pmid": "a", "abstract": "again"}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"pmid": 7, "abstract": ""}),
        "[" * 100_000 + "]" * 100_000,  # valid JSON, too deep for json.loads (RecursionError)
    ]
    inp = tmp_path / "in.jsonl.gz"
    with gzip.open(inp, "wt", encoding="utf8") as f:
        f.write("\n".join(lines) + "\n")
    stats, messages = run(nlp, inp, tmp_path / "out.jsonl", id_field="pmid", text_field="abstract")
    records = read_records(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["a", "7"]
    assert records[1]["entities"] == []
    assert stats.bad == 7 == len(messages)
    for line, code in [(2, "E2616"), (3, "E2616"), (4, "E2616"), (5, "E2616"), (6, "E2619"), (7, "E2616"), (10, "E2616")]:
        assert any(f"in.jsonl.gz:{line}:" in m and code in m for m in messages), (line, messages)
    assert "invalid JSON" in messages[0] and "duplicate id 'a'" in messages[4]
    assert "nested too deeply" in messages[6]


PUBMED_XML = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE PubmedArticleSet>
<PubmedArticleSet>
  <PubmedArticle>
    <MedlineCitation Status="MEDLINE" Owner="NLM">
      <PMID Version="1">1001</PMID>
      <Article PubModel="Print">
        <ArticleTitle>Breast <i>cancer</i> in women.</ArticleTitle>
        <Abstract>
          <AbstractText Label="BACKGROUND">Colon cancer is a disease.</AbstractText>
          <AbstractText Label="RESULTS">Patients with ovarian cancer.</AbstractText>
        </Abstract>
      </Article>
    </MedlineCitation>
    <PubmedData><ArticleIdList><ArticleId IdType="pubmed">1001</ArticleId></ArticleIdList></PubmedData>
  </PubmedArticle>
  <PubmedArticle>
    <MedlineCitation><PMID Version="1">1002</PMID>
      <Article><ArticleTitle>A title only.</ArticleTitle></Article>
    </MedlineCitation>
  </PubmedArticle>
  <PubmedArticle><MedlineCitation><Article><ArticleTitle>No PMID</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def test_annotate_pubmed_xml(nlp, tmp_path):
    inp = tmp_path / "pubmed.xml.gz"
    with gzip.open(inp, "wt", encoding="utf8") as f:
        f.write(PUBMED_XML)
    stats, messages = run(nlp, inp, tmp_path / "out.jsonl", include_text=True)
    records = read_records(tmp_path / "out.jsonl")
    assert [(r["id"], r["text"]) for r in records] == [
        ("1001", "Breast cancer in women. Colon cancer is a disease. Patients with ovarian cancer."),
        ("1002", "A title only."),
    ]
    assert stats.bad == 1 and "article 3" in messages[0] and "no PMID" in messages[0]


def test_annotate_pubmed_clears_articles(tmp_path):
    """Memory stays flat: the articles read are cleared from the tree."""
    import tracemalloc

    article = PUBMED_XML.split("<PubmedArticleSet>")[1].split("</PubmedArticleSet>")[0]
    one = article.split("</PubmedArticle>")[0] + "</PubmedArticle>\n"
    path = tmp_path / "big.xml"
    with open(path, "w", encoding="utf8") as f:
        f.write('<?xml version="1.0"?>\n<PubmedArticleSet>\n')
        for i in range(6000):
            f.write(one.replace("1001", str(i + 1)))
        f.write("</PubmedArticleSet>\n")
    tracemalloc.start()
    n = 0
    for n, _ in enumerate(read_pubmed(path, lambda m: None), 1):
        if n == 500:
            at_500 = tracemalloc.get_traced_memory()[0]
    at_end, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 6000
    assert at_end < at_500 + 200_000, (at_500, at_end)


def test_annotate_pubmed_malformed_is_reported(nlp, tmp_path):
    inp = tmp_path / "bad.xml"
    inp.write_text(PUBMED_XML[:700], encoding="utf8")  # cut inside the second article
    stats, messages = run(nlp, inp, tmp_path / "out.jsonl")
    assert [r["id"] for r in read_records(tmp_path / "out.jsonl")] == ["1001"]
    assert stats.bad == 1 and "malformed XML" in messages[0]


def test_annotate_resume_truncates_partial_line(nlp, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(6)) + "\n", encoding="utf8")
    full = tmp_path / "full.jsonl"
    run(nlp, inp, full)
    lines = full.read_text(encoding="utf8").splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:2]) + lines[2][:15], encoding="utf8")
    ids, cut = read_done_ids(part)
    assert ids == {"1", "2"} and cut == 15
    assert part.read_text(encoding="utf8") == "".join(lines[:2])
    stats, _ = run(nlp, inp, part)
    assert stats.done_before == 2 and stats.annotated == 4
    assert strip_confidence(read_records(part)) == strip_confidence(read_records(full))
    # nothing left to do: a third run adds nothing
    assert run(nlp, inp, part)[0].annotated == 0
    assert len(read_records(part)) == 6


def test_annotate_resume_refuses_foreign_output(nlp, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("a\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    out.write_text("hello\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2617\]"):
        run(nlp, inp, out)
    run(nlp, inp, out, overwrite=True)
    assert [r["id"] for r in read_records(out)] == ["1"]


def test_annotate_kill_and_resume(ner_dir, nlp, tmp_path):
    """SIGKILL a running `annotate`, start it again: every id once, same records."""
    n = 1000
    inp = tmp_path / "in.jsonl"
    with open(inp, "w", encoding="utf8") as f:
        for i, text in enumerate(make_texts(n, seed=1)):
            f.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    out = tmp_path / "out.jsonl"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "spacy_biobert", "annotate", str(ner_dir), str(inp), str(out),
           "--batch-size", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "annotate finished (or failed) before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    n_before = out.read_bytes().count(b"\n")
    assert 20 <= n_before < n
    stats, messages = run(nlp, inp, out, batch_size=8)
    assert stats.done_before == n_before and stats.annotated == n - n_before and not messages
    resumed = read_records(out)
    assert sorted(r["id"] for r in resumed) == sorted(f"d{i}" for i in range(n))
    assert len({r["id"] for r in resumed}) == n
    reference = tmp_path / "ref.jsonl"
    run(nlp, inp, reference, batch_size=8)
    assert strip_confidence(resumed) == strip_confidence(read_records(reference))


def test_annotate_n_process_2_equals_1(nlp, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(40, seed=2)) + "\n", encoding="utf8")
    run(nlp, inp, tmp_path / "one.jsonl", batch_size=4)
    run(nlp, inp, tmp_path / "two.jsonl", batch_size=4, n_process=2)
    one, two = read_records(tmp_path / "one.jsonl"), read_records(tmp_path / "two.jsonl")
    assert len(one) == 40
    assert strip_confidence(two, 5) == strip_confidence(one, 5)


@Language.component("test_annotate_fake_re_qa")
def fake_re_qa(doc: Doc) -> Doc:
    """Sets doc._.relations and doc._.answers as the RE and QA components do."""
    from spacy.tokens import Span

    if not Doc.has_extension("answers"):
        Doc.set_extension("answers", default=None)
    doc.ents = [Span(doc, 0, 1, label="CHEMICAL"), Span(doc, 2, 3, label="GENE")]
    h, t = doc.ents
    rec = lambda s: {"start": s.start, "end": s.end, "start_char": s.start_char,  # noqa: E731
                     "end_char": s.end_char, "label": s.label_}
    doc._.relations = ({"head": rec(h), "tail": rec(t), "label": "INHIBITOR", "score": 0.9,
                        "scores": {"false": 0.1, "INHIBITOR": 0.9}},)
    doc._.answers = [{"question": "What inhibits?", "answers": [
        {"text": h.text, "start_char": h.start_char, "end_char": h.end_char, "score": 0.8}]}]
    return doc


def test_annotate_writes_relations_and_answers(tmp_path):
    import spacy

    from spacy_biobert.extensions import install_extensions

    install_extensions()
    nlp = spacy.blank("en")
    nlp.add_pipe("test_annotate_fake_re_qa")
    inp = tmp_path / "in.txt"
    inp.write_text("aspirin inhibits cox1 .\n", encoding="utf8")
    run(nlp, inp, tmp_path / "out.jsonl")
    (record,) = read_records(tmp_path / "out.jsonl")
    assert record["entities"] == [
        {"start_char": 0, "end_char": 7, "label": "CHEMICAL", "text": "aspirin"},
        {"start_char": 17, "end_char": 21, "label": "GENE", "text": "cox1"},
    ]
    assert record["relations"][0]["label"] == "INHIBITOR"
    assert record["relations"][0]["tail"]["start_char"] == 17
    assert record["answers"] == [{"question": "What inhibits?", "answers": [
        {"text": "aspirin", "start_char": 0, "end_char": 7, "score": 0.8}]}]
