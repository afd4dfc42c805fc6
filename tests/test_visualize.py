"""displaCy views (spacy_biobert.visualize) and `spacy-biobert visualize`."""

import pytest
import spacy
from typer.testing import CliRunner
from util import make_examples, make_ner_nlp

from spacy_biobert.apps.visualize import (
    answer_parses,
    label_colors,
    relation_parses,
    render_page,
)
from spacy_biobert.benchmarks.screenshot import demo_docs


@pytest.fixture(scope="module")
def docs():
    return demo_docs()


def test_visualize_label_colors_stable():
    a = label_colors(["GENE", "CHEMICAL"])
    assert a == label_colors(["CHEMICAL", "GENE"])
    assert set(a) == {"GENE", "CHEMICAL"}
    assert all(c.startswith("#") for c in a.values())


def test_visualize_relation_parses_merge_entities_and_point_to_tail(docs):
    (doc,) = docs
    (parse,) = relation_parses(doc, doc._.relations)
    words = [w["text"] for w in parse["words"]]
    assert "rheumatoid arthritis" in words  # a multi-token entity is one word
    tags = {w["text"]: w["tag"] for w in parse["words"]}
    assert tags["Aspirin"] == "CHEMICAL" and tags["COX-1"] == "GENE" and tags["in"] == ""
    arcs = parse["arcs"]
    assert [a["label"] for a in arcs] == ["CPR:4", "CPR:4"]
    assert words[arcs[0]["start"]] == "Aspirin" and words[arcs[0]["end"]] == "COX-1"
    assert arcs[0]["dir"] == "right"
    # a relation from right to left points left
    reverse = [{**doc._.relations[0], "head": doc._.relations[0]["tail"], "tail": doc._.relations[0]["head"]}]
    (parse,) = relation_parses(doc, reverse)
    assert parse["arcs"][0]["dir"] == "left"


def test_visualize_relation_parses_per_sentence():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    doc = nlp("Aspirin blocks COX1. Nothing here. Water is wet.")
    rec = lambda s, e, label: {"start": s, "end": e, "start_char": doc[s].idx,  # noqa: E731
                               "end_char": doc[e - 1].idx + len(doc[e - 1]), "label": label}
    parses = relation_parses(doc, [{"head": rec(0, 1, "CHEMICAL"), "tail": rec(2, 3, "GENE"), "label": "X"}])
    assert len(parses) == 1 and [w["text"] for w in parses[0]["words"]] == ["Aspirin", "blocks", "COX1", "."]
    assert relation_parses(doc, []) == []


def test_visualize_answer_parses_drop_overlaps(docs):
    (doc,) = docs
    parses, colors = answer_parses(doc.text, doc._.answers)
    assert [p["title"] for p in parses] == ["Q: What does aspirin inhibit?", "Q: Which disease do the patients have?"]
    labels = [e["label"] for e in parses[0]["ents"]]
    assert labels == ["#1 0.91", "#3 0.05"]  # "COX-1 in platelets" overlaps the best answer
    assert set(colors) == {"#1 0.91", "#3 0.05", "#1 0.97"}


def test_visualize_render_page(docs):
    page = render_page(docs, title="t<est>")
    assert page.startswith("<!DOCTYPE html>") and "<title>t&lt;est&gt;</title>" in page
    for section in ("Entities", "Relations", "Answers"):
        assert f"<h2>{section}</h2>" in page
    assert page.count("CPR:4") >= 2 and "<svg" in page  # the arcs
    assert "Q: What does aspirin inhibit?" in page
    assert label_colors(["GENE"])["GENE"] in page


ATTACK = "<img src=x onerror=alert(1)>"


def test_visualize_escapes_labels_and_questions():
    """Entity labels, relation labels and QA questions are user data: the page
    shows them as text, never as markup (displaCy escapes only the text)."""
    from spacy.tokens import Span

    from spacy_biobert import install_extensions

    install_extensions()
    nlp = spacy.blank("en")
    doc = nlp("aspirin inhibits cox1 .")
    doc.ents = [Span(doc, 0, 1, label=ATTACK), Span(doc, 2, 3, label="GENE")]
    doc._.relations = [{
        "head": {"start": 0, "end": 1, "label": ATTACK, "text": "aspirin", "start_char": 0, "end_char": 7},
        "tail": {"start": 2, "end": 3, "label": "GENE", "text": "cox1", "start_char": 17, "end_char": 21},
        "label": "<script>alert(2)</script>", "score": 0.9,
    }]
    doc._.answers = [{"question": ATTACK + "?", "answers": [
        {"text": "cox1", "start_char": 17, "end_char": 21, "score": 0.8},
    ]}]
    page = render_page([doc])
    assert "<img" not in page and "<script>" not in page
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    # in the legend, in the entity marks, as the arcs' word tag, and in the question
    assert page.count(escaped) >= 4
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "Q: " + escaped + "?" in page
    assert page.count("GENE") >= 3  # plain labels are unchanged


def test_visualize_render_page_no_entities():
    doc = spacy.blank("en")("nothing to see")
    page = render_page([doc])
    assert "No entities." in page


def test_visualize_cli(tiny_bert, tmp_path):
    from spacy_biobert.cli import app

    nlp = make_ner_nlp(tiny_bert)
    nlp.initialize(lambda: make_examples(nlp))
    nlp.to_disk(tmp_path / "nlp")
    src = tmp_path / "in.txt"
    src.write_text("women with breast cancer\n\npatients with colon cancer\n", encoding="utf8")
    out = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["visualize", str(tmp_path / "nlp"), str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf8")
    assert "breast" in page and "colon" in page and "<h2>Relations</h2>" in page  # doc._.relations exists
    # a text instead of a file; questions without a QA component give a warning
    with pytest.warns(UserWarning, match=r"\(spacy-biobert\) \[W2601\]"):
        result = CliRunner().invoke(app, [
            "visualize", str(tmp_path / "nlp"), "cancer in women", "-o", str(out), "--question", "Who?",
        ])
    assert result.exit_code == 0, result.output
    assert "women" in out.read_text(encoding="utf8")


@pytest.mark.slow
def test_visualize_screenshot_not_blank(tmp_path):
    from spacy_biobert.benchmarks.screenshot import (
        blank_stats,
        find_chromium,
        is_blank,
        read_png,
        screenshot,
    )

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    html = tmp_path / "page.html"
    html.write_text(render_page(demo_docs()), encoding="utf8")
    png = screenshot(html, tmp_path / "page.png", chromium=chromium, width=1000, height=800)
    stats = blank_stats(read_png(png))
    assert not is_blank(stats), stats
    # and a blank page is seen as blank
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body></body></html>", encoding="utf8")
    assert is_blank(blank_stats(read_png(screenshot(empty, tmp_path / "empty.png", chromium=chromium, width=400, height=300))))


def test_visualize_page_parses_without_injected_markup():
    """Hostile text, labels, relation labels, questions and answers: the page,
    parsed as HTML, has no element or attribute that came from the data."""
    from html.parser import HTMLParser

    from spacy.tokens import Span

    from spacy_biobert import install_extensions

    install_extensions()
    nlp = spacy.blank("en")
    text = 'aspirin <script>alert(3)</script> inhibits cox1 " onmouseover="alert(4) .'
    doc = nlp(text)
    head, tail = doc[0:1], doc[-5:-4]
    assert tail.text == "cox1"
    doc.ents = [Span(doc, 0, 1, label=ATTACK), Span(doc, tail.start, tail.end, label='x" onclick="alert(5)')]
    doc._.relations = [{
        "head": {"start": 0, "end": 1, "label": ATTACK, "text": head.text, "start_char": 0, "end_char": 7},
        "tail": {"start": tail.start, "end": tail.end, "label": "GENE", "text": "cox1",
                 "start_char": tail.start_char, "end_char": tail.end_char},
        "label": "<iframe src=javascript:alert(6)>", "score": 0.9,
    }]
    doc._.answers = [{"question": "<svg onload=alert(7)>?", "answers": [
        {"text": doc[1:4].text, "start_char": doc[1].idx, "end_char": doc[3].idx + len(doc[3]), "score": 0.8},
    ]}]
    page = render_page([doc])

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs, self.values = set(), set(), []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.attrs.update(name for name, _ in attrs)
            self.values.extend(value or "" for _, value in attrs)

    parsed = Collect()
    parsed.feed(page)
    # displaCy draws the arcs as <svg> itself; the injected one would carry onload
    assert not parsed.tags & {"script", "img", "iframe"}, parsed.tags
    assert not {a for a in parsed.attrs if a.startswith("on")}, parsed.attrs
    assert not [v for v in parsed.values if "javascript:" in v or "alert(" in v]
    # the data is on the page, as text
    for shown in ("&lt;script&gt;", "&lt;iframe", "&lt;svg onload=alert(7)&gt;?", "onclick"):
        assert shown in page, shown
