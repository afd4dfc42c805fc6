"""doc._.relations, doc._.questions and doc._.answers come back from a
DocBin / Doc.to_bytes round trip equal to what the components set: lists
and dicts, not the tuples msgpack reads lists back as."""

import spacy
from spacy.tokens import Doc, DocBin

from spacy_biobert.extensions import install_extensions

RELATIONS = [
    {"head": {"start": 0, "end": 1, "start_char": 0, "end_char": 7, "label": "CHEMICAL"},
     "tail": {"start": 2, "end": 3, "start_char": 17, "end_char": 22, "label": "GENE-Y"},
     "label": "CPR:4", "score": 0.91, "scores": {"false": 0.09, "CPR:4": 0.91}},
]
QUESTIONS = ["What does aspirin inhibit ?", "Which gene ?"]
ANSWERS = [
    {"question": QUESTIONS[0], "answers": [{"text": "COX-1", "start_char": 17, "end_char": 22, "score": 0.8},
                                          {"text": "inhibits COX-1", "start_char": 8, "end_char": 22, "score": 0.1}]},
    {"question": QUESTIONS[1], "answers": []},
]


def make_doc(nlp):
    install_extensions()
    doc = nlp("Aspirin inhibits COX-1 .")
    doc._.relations = [dict(r) for r in RELATIONS]
    doc._.questions = list(QUESTIONS)
    doc._.answers = [dict(a) for a in ANSWERS]
    return doc


def assert_same_types(got, want, where):
    assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        for key in want:
            assert_same_types(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, list):
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_types(g, w, f"{where}[{i}]")


def check(doc):
    for attr, want in (("relations", RELATIONS), ("questions", QUESTIONS), ("answers", ANSWERS)):
        got = doc._.get(attr)
        assert got == want, attr
        assert_same_types(got, want, attr)
    # the converted value is the stored one: changes to it are kept
    doc._.relations.append({"label": "x"})
    assert doc._.relations[-1] == {"label": "x"}


def test_docbin_round_trip_gives_lists_back():
    nlp = spacy.blank("en")
    db = DocBin(store_user_data=True)
    db.add(make_doc(nlp))
    (doc,) = DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab)
    check(doc)


def test_doc_to_bytes_round_trip_gives_lists_back():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab).from_bytes(make_doc(nlp).to_bytes())
    check(doc)


def test_unset_attributes_stay_none():
    install_extensions()
    doc = spacy.blank("en")("text")
    assert (doc._.relations, doc._.questions, doc._.answers) == (None, None, None)
