"""displaCy views of what the spacy-biobert components predict.

- `render_entities`: the entities (displaCy ``ent`` style), one colour per label.
- `render_relations`: the relations of ``doc._.relations`` as arcs from head to
  tail, labelled with the relation label (displaCy ``dep`` style, manual mode:
  every entity is merged into one "word" whose tag is its label). When the doc
  has sentences, only the sentences that hold a relation are drawn, one each.
- `render_answers`: the passage with the answer spans of ``doc._.answers``
  highlighted, one block per question, the question as its title (displaCy
  ``ent`` style, manual mode; labels ``#rank score``).
- `render_page`: all three for some docs, as one standalone HTML page.

The functions return markup (strings) and never print.
"""

import hashlib
import html
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy import displacy
from spacy.tokens import Doc

from ..extensions import ANSWERS_ATTR, RELATIONS_ATTR

# Light, readable backgrounds; a label's colour is chosen by a hash of its
# name, so it is the same in every page and every run.
PALETTE = (
    "#7aecec", "#bfeeb7", "#feca74", "#ff9561", "#aa9cfc", "#c887fb",
    "#9cc9cc", "#ffeb80", "#e4e7d2", "#f0d0ff", "#bfe1d9", "#ddd8f5",
)


ANSWER_COLORS = ("#ffd54f", "#ffe9a8", "#fff4d1")


def label_colors(labels: Iterable[str]) -> Dict[str, str]:
    """A colour per label, stable across runs (from the label's md5).

    labels (Iterable[str]): the labels.
    RETURNS (Dict[str, str]): label → CSS colour.
    """
    colors = {}
    for label in labels:
        digest = hashlib.md5(label.encode("utf8")).digest()
        colors[label] = PALETTE[digest[0] % len(PALETTE)]
    return colors


def render_entities(docs: Sequence[Doc], *, colors: Optional[Dict[str, str]] = None) -> str:
    """The entities of `docs`, displaCy 'ent' style.

    docs (Sequence[Doc]): the documents.
    colors (Optional[Dict[str, str]]): label → colour; default `label_colors`.
    RETURNS (str): HTML markup.
    """
    labels = sorted({ent.label_ for doc in docs for ent in doc.ents})
    colors = colors if colors is not None else label_colors(labels)
    # displaCy escapes the text but writes labels as they are: escape them
    # (a label is user data: a trained pipeline's or a corpus's)
    parses = [
        {
            "text": doc.text,
            "ents": [
                {"start": e.start_char, "end": e.end_char, "label": html.escape(e.label_)}
                for e in doc.ents
            ],
            "title": None,
            # as displaCy's own parse of a Doc
            "settings": {"lang": doc.lang_, "direction": doc.vocab.writing_system.get("direction", "ltr")},
        }
        for doc in docs
    ]
    options = {"colors": {html.escape(label): color for label, color in colors.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # displaCy's W006 on docs without entities
        return displacy.render(parses, style="ent", manual=True, options=options, page=False, jupyter=False)


def relation_parses(doc: Doc, relations: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The displaCy manual 'dep' parses that draw `relations` on `doc`.

    Each entity (of ``doc.ents`` or of a relation record) becomes one word
    with its label as tag; every relation becomes an arc from head to tail.
    One parse per sentence holding a relation when the doc has sentences,
    else one for the doc.

    doc (Doc): the document.
    relations (Iterable[Dict[str, Any]]): records as in ``doc._.relations``.
    RETURNS (List[Dict[str, Any]]): parses for ``displacy.render(..., manual=True)``.
    """
    relations = list(relations)
    spans: Dict[Tuple[int, int], str] = {(e.start, e.end): e.label_ for e in doc.ents}
    for rel in relations:
        for side in ("head", "tail"):
            spans.setdefault((rel[side]["start"], rel[side]["end"]), rel[side]["label"])
    if doc.has_annotation("SENT_START"):
        contexts = [(s.start, s.end) for s in doc.sents]
    else:
        contexts = [(0, len(doc))]
    parses = []
    for c_start, c_end in contexts:
        rels = [
            r for r in relations
            if c_start <= r["head"]["start"] < c_end and c_start <= r["tail"]["start"] < c_end
        ]
        if not rels:
            continue
        words: List[Dict[str, str]] = []
        index: Dict[Tuple[int, int], int] = {}
        starts = {}
        for (s, e), label in sorted(spans.items()):
            if c_start <= s and e <= c_end:
                starts.setdefault(s, (e, label))
        i = c_start
        while i < c_end:
            if i in starts:
                end, label = starts[i]
                index[(i, end)] = len(words)
                words.append({"text": doc[i:end].text, "tag": label})
                i = end
            else:
                words.append({"text": doc[i].text, "tag": ""})
                i += 1
        arcs = []
        for rel in rels:
            head = index.get((rel["head"]["start"], rel["head"]["end"]))
            tail = index.get((rel["tail"]["start"], rel["tail"]["end"]))
            if head is None or tail is None or head == tail:
                continue  # overlapping mentions: no arc can be drawn between them
            arcs.append({
                "start": min(head, tail), "end": max(head, tail), "label": rel["label"],
                "dir": "right" if tail > head else "left",
            })
        parses.append({"words": words, "arcs": arcs})
    return parses


def render_relations(doc: Doc, *, relations_attr: str = RELATIONS_ATTR) -> str:
    """The relations of `doc` as labelled arcs head → tail (displaCy 'dep' style).

    doc (Doc): a document annotated by the relation extractor.
    relations_attr (str): the ``Doc._`` attribute holding the relation records.
    RETURNS (str): SVG markup, or "" when the doc has no relation.
    """
    records = getattr(doc._, relations_attr, None) if Doc.has_extension(relations_attr) else None
    parses = relation_parses(doc, records or [])
    if not parses:
        return ""
    # displaCy writes tags and arc labels as they are: escape them
    parses = [
        {
            "words": [{"text": w["text"], "tag": html.escape(w["tag"])} for w in parse["words"]],
            "arcs": [{**arc, "label": html.escape(arc["label"])} for arc in parse["arcs"]],
        }
        for parse in parses
    ]
    options = {"compact": False, "distance": 110, "offset_x": 40, "word_spacing": 30}
    return displacy.render(parses, style="dep", manual=True, options=options, page=False, jupyter=False)


def answer_parses(text: str, answers: Iterable[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], Dict[str, str]]:
    """displaCy manual 'ent' parses: the passage once per question, answers marked.

    Overlapping answers of one question are dropped in favour of the better
    scored one (displaCy cannot draw overlapping spans). Labels are
    ``#rank score`` (rank by score, 1 = best).

    text (str): the passage.
    answers (Iterable[Dict[str, Any]]): records as in ``doc._.answers``:
        ``{"question": str, "answers": [{"text", "start_char", "end_char", "score"}]}``.
    RETURNS (Tuple[List[Dict[str, Any]], Dict[str, str]]): the parses and the label colours.
    """
    parses = []
    colors: Dict[str, str] = {}
    for record in answers:
        ranked = sorted(record.get("answers") or [], key=lambda a: -float(a.get("score") or 0.0))
        kept: List[Dict[str, Any]] = []
        for rank, ans in enumerate(ranked, 1):
            start, end = int(ans["start_char"]), int(ans["end_char"])
            if any(start < k["end"] and k["start"] < end for k in kept):
                continue
            score = ans.get("score")
            label = f"#{rank}" + (f" {float(score):.2f}" if score is not None else "")
            colors[label] = ANSWER_COLORS[min(rank, len(ANSWER_COLORS)) - 1]
            kept.append({"start": start, "end": end, "label": label})
        kept.sort(key=lambda k: k["start"])
        parses.append({"text": text, "ents": kept, "title": f"Q: {record.get('question', '')}"})
    return parses, colors


def render_answers(doc: Doc, *, answers_attr: str = ANSWERS_ATTR) -> str:
    """The answers of ``doc._.answers`` highlighted in the passage, per question.

    doc (Doc): a document annotated by a QA component.
    answers_attr (str): the ``Doc._`` attribute holding the answer records.
    RETURNS (str): HTML markup, or "" when the doc has no answers.
    """
    records = getattr(doc._, answers_attr, None) if Doc.has_extension(answers_attr) else None
    parses, colors = answer_parses(doc.text, records or [])
    if not parses:
        return ""
    # displaCy writes the title (the question) as it is: escape it
    parses = [{**parse, "title": html.escape(parse["title"])} for parse in parses]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return displacy.render(
            parses, style="ent", manual=True, options={"colors": colors}, page=False, jupyter=False,
        )


PAGE_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.legend span { display: inline-block; padding: 0.2em 0.6em; margin: 0 0.4em 0.4em 0; border-radius: 0.3em; }
.none { color: #888; font-style: italic; }
.arcs { overflow-x: auto; }
"""


def render_page(
    docs: Sequence[Doc],
    *,
    title: str = "spacy-biobert",
    relations_attr: str = RELATIONS_ATTR,
    answers_attr: str = ANSWERS_ATTR,
) -> str:
    """One standalone HTML page: entities, relation arcs and QA answers of `docs`.

    docs (Sequence[Doc]): annotated documents.
    title (str): the page title.
    relations_attr (str): the ``Doc._`` attribute of relations.
    answers_attr (str): the ``Doc._`` attribute of answers.
    RETURNS (str): the HTML page.
    """
    labels = sorted({ent.label_ for doc in docs for ent in doc.ents})
    colors = label_colors(labels)
    legend = "".join(
        f'<span style="background: {colors[label]}">{html.escape(label)}</span>' for label in labels
    )
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{PAGE_CSS}</style>", "</head>", "<body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Entities</h2>",
        f'<div class="legend">{legend}</div>' if legend else '<p class="none">No entities.</p>',
        render_entities(docs, colors=colors),
    ]
    relations = [render_relations(doc, relations_attr=relations_attr) for doc in docs]
    if any(relations) or Doc.has_extension(relations_attr):
        parts.append("<h2>Relations</h2>")
        # the arcs can be wider than the page: let them scroll
        parts.extend(f'<div class="arcs">{r}</div>' for r in relations if r)
        if not any(relations):
            parts.append('<p class="none">No relations.</p>')
    answers = [render_answers(doc, answers_attr=answers_attr) for doc in docs]
    if any(answers) or Doc.has_extension(answers_attr):
        parts.append("<h2>Answers</h2>")
        parts.extend(a for a in answers if a)
        if not any(answers):
            parts.append('<p class="none">No answers.</p>')
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


__all__ = [
    "label_colors", "render_entities", "relation_parses", "render_relations",
    "answer_parses", "render_answers", "render_page",
]
