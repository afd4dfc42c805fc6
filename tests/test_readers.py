"""The IOB TSV reader: the real data sets, document grouping, untyped tags and
malformed files (every error names the file and the line)."""

from pathlib import Path

import pytest
import spacy
from spacy.training import Example

from spacy_biobert.ner.iob import read_iob_sentences
from spacy_biobert.ner.readers import create_iob_corpus, read_iob_docs
from spacy_biobert.ner.tags import iob_to_spans, spans_to_iob


def _write(tmp_path: Path, text: str, name: str = "data.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


# fmt: off
# sentences and entities per split, from ../shared/data/README.md
COUNTS = [
    ("ncbi_disease", (5424, 923, 940), (5134, 787, 960)),
    ("bc5cdr_disease", (4560, 4581, 4797), (4182, 4246, 4424)),
    ("bc5cdr_chem", (4560, 4581, 4797), (5203, 5347, 5385)),
    ("bc2gm", (12574, 2519, 5038), (15197, 3061, 6325)),
    ("jnlpba", (16807, 1739, 3856), (46750, 4551, 8662)),
    ("linnaeus", (11935, 4078, 7142), (2119, 711, 1433)),
    ("s800", (5733, 830, 1630), (2557, 384, 767)),
]
# fmt: on


@pytest.mark.parametrize("name,n_sents,n_ents", COUNTS)
def test_readers_real_datasets_counts(shared_data, name, n_sents, n_ents):
    for split, want_sents, want_ents in zip(("train", "dev", "test"), n_sents, n_ents):
        path = shared_data / "ner" / name / f"{split}.tsv"
        sents = list(read_iob_sentences(path))
        assert len(sents) == want_sents, (name, split)
        assert sum(len(iob_to_spans(s.tags)) for s in sents) == want_ents, (name, split)


def test_readers_docstart_grouping(tmp_path):
    path = _write(
        tmp_path,
        "-DOCSTART-\tO\n\nIL-2\tB-protein\ngene\tI-protein\n\nis\tO\n\n"
        "-DOCSTART-\tO\n\nT\tB-cell_type\ncells\tI-cell_type\n",
    )
    nlp = spacy.blank("en")
    per_sentence = list(read_iob_docs(path, nlp.vocab))
    assert [len(d) for d in per_sentence] == [2, 1, 2]
    grouped = list(read_iob_docs(path, nlp.vocab, group_documents=True))
    assert [d.text.split() for d in grouped] == [["IL-2", "gene", "is"], ["T", "cells"]]
    assert [(e.text, e.label_) for e in grouped[0].ents] == [("IL-2 gene", "protein")]
    assert [s.text for s in grouped[0].sents] == ["IL-2 gene", "is"]


def test_readers_untyped(tmp_path):
    path = _write(tmp_path, "a\tB-Chemical\nb\tI-Chemical\nc\tB-Disease\n")
    nlp = spacy.blank("en")
    (doc,) = read_iob_docs(path, nlp.vocab, untyped=True)
    assert [(e.text, e.label_) for e in doc.ents] == [("a b", "ENTITY"), ("c", "ENTITY")]


def test_readers_untyped_plain_bio_tags(tmp_path):
    path = _write(tmp_path, "a\tB\nb\tI\nc\tO\n")
    (doc,) = read_iob_docs(path, spacy.blank("en").vocab)
    assert [(e.text, e.label_) for e in doc.ents] == [("a b", "ENTITY")]


def test_readers_orphan_inside_tag_starts_entity():
    # conlleval / seqeval default mode: I-X after O or after another type starts X
    assert iob_to_spans(["O", "I-A", "I-A", "I-B", "B-A"]) == [(1, 3, "A"), (3, 4, "B"), (4, 5, "A")]
    assert spans_to_iob(5, [(1, 3, "A"), (3, 4, "B"), (4, 5, "A")]) == ["O", "B-A", "I-A", "B-B", "B-A"]


def test_readers_crlf_and_odd_unicode(tmp_path):
    path = _write(tmp_path, "caf\u00e9\tB-X\r\n\u03b1-syn\tI-X\r\n\r\n\U0001F9EC\tO\r\n")
    sents = list(read_iob_sentences(path))
    assert [s.words for s in sents] == [["caf\u00e9", "\u03b1-syn"], ["\U0001F9EC"]]


# fmt: off
@pytest.mark.parametrize("text,line,code", [
    ("a\tO\nb O\n", 2, "E2201"),                     # no tab
    ("a\tO\n\nb\tO\tX\n", 3, "E2201"),               # three fields
    ("a\tO\nb\tB_Disease\n", 2, "E2202"),            # bad tag
    ("a\tO\nb\tS-Disease\n", 2, "E2202"),            # not IOB2
    ("a\tO\n \tO\n", 2, "E2203"),                    # empty token
])
# fmt: on
def test_readers_malformed_names_file_and_line(tmp_path, text, line, code):
    path = _write(tmp_path, text, "bad.tsv")
    with pytest.raises(ValueError, match=rf"\(spacy-biobert\) \[{code}\]") as e:
        list(read_iob_sentences(path))
    assert f"[{code}] {path}:{line}:" in str(e.value)


def test_readers_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\(spacy-biobert\) \[E2001\]"):
        list(read_iob_sentences(tmp_path / "nope.tsv"))
    with pytest.raises(FileNotFoundError, match=r"\(spacy-biobert\) \[E2001\]"):
        create_iob_corpus(tmp_path / "nope.tsv")


def test_readers_corpus_empty_file_raises(tmp_path):
    path = _write(tmp_path, "\n\n")
    corpus = create_iob_corpus(path)
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2207\]"):
        list(corpus(spacy.blank("en")))


def test_readers_corpus_examples_and_limit(tmp_path):
    path = _write(tmp_path, "a\tB-X\nb\tO\n\nc\tO\n\nd\tB-X\n")
    nlp = spacy.blank("en")
    examples = list(create_iob_corpus(path, limit=2)(nlp))
    assert len(examples) == 2
    assert all(isinstance(eg, Example) for eg in examples)
    assert [eg.reference.text.split() for eg in examples] == [["a", "b"], ["c"]]
    assert not examples[0].predicted.ents  # the input carries no annotation
    assert [e.text for e in examples[0].reference.ents] == ["a"]
    # no path (e.g. paths.dev = null): no examples
    assert list(create_iob_corpus(None)(nlp)) == []
