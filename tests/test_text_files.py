"""Users' data files that are not UTF-8 (text_files.py): every reader of data
files names the file, the line and the byte (E2050) instead of raising
Python's UnicodeDecodeError, and never changes the file."""

from pathlib import Path

import pytest

from spacy_biobert.apps.pretrain import PretrainSettings
from spacy_biobert.apps.pretrain_data import build_datasets, read_documents
from spacy_biobert.apps.re_eval import split_heldout
from spacy_biobert.ner.bioc import read_bioc_json
from spacy_biobert.ner.brat import read_brat
from spacy_biobert.ner.conll import read_conll_sentences
from spacy_biobert.ner.iob import read_iob_sentences
from spacy_biobert.ner.pubtator import read_pubtator
from spacy_biobert.qa.squad import load_squad_json
from spacy_biobert.relations.binary import read_binary_re
from spacy_biobert.relations.chemprot import read_chemprot_documents, read_chemprot_gold
from spacy_biobert.text_files import first_invalid_utf8, open_utf8

# line 1 holds a two-byte character, line 2 is long (the decoder reads the
# file in chunks, so the error is met far from where it is), line 3 has a
# Latin-1 byte (0xe9, "é") at its 5th byte
BAD = "Aß\tO\n".encode("utf8") + b"x" * 20000 + b"\tO\n" + b"caf\xc3\xa9\xe9\tO\n\n"
# for the readers: the bad byte on the first line, met before any line is parsed
BAD_FIRST = b"caf\xc3\xa9\xe9\tO\n\n"


def _bad_file(path: Path, content: bytes = BAD_FIRST) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _check(error, path: Path, line: int = 1, content: bytes = BAD_FIRST) -> None:
    text = str(error.value)
    assert "[E2050]" in text and f"{path}:{line}:" in text, text
    assert "byte 0xe9 at byte 6 of the line" in text, text
    assert path.read_bytes() == content  # the input is only read


def test_first_invalid_utf8_line_column_byte(tmp_path):
    assert first_invalid_utf8(_bad_file(tmp_path / "a.tsv", BAD)) == (3, 6, 0xE9)
    good = tmp_path / "good.tsv"
    good.write_text("Aß\tO\n", encoding="utf8")
    assert first_invalid_utf8(good) is None


def test_open_utf8_names_file_line_and_byte(tmp_path):
    path = _bad_file(tmp_path / "a.tsv", BAD)
    with pytest.raises(ValueError) as error:
        with open_utf8(path) as f:
            for _ in f:
                pass
    _check(error, path, 3, BAD)


def test_open_utf8_leaves_other_decoding_errors_alone(tmp_path):
    good = tmp_path / "good.tsv"
    good.write_text("Aß\tO\n", encoding="utf8")
    with pytest.raises(UnicodeDecodeError):
        with open_utf8(good):
            b"\xff".decode("utf8")  # not the file's bytes


def _chemprot_gold(tmp_path: Path):
    abstracts, entities = tmp_path / "abstracts.tsv", tmp_path / "entities.tsv"
    abstracts.write_text("1\tTitle\tAbstract\n", encoding="utf8")
    entities.write_text("", encoding="utf8")
    documents = read_chemprot_documents(abstracts, entities)
    path = _bad_file(tmp_path / "gold.tsv")
    return path, lambda: read_chemprot_gold(path, documents)


def _chemprot_abstracts(tmp_path: Path):
    entities = tmp_path / "entities.tsv"
    entities.write_text("", encoding="utf8")
    path = _bad_file(tmp_path / "abstracts.tsv")
    return path, lambda: read_chemprot_documents(path, entities)


def _reader(read, name="data.tsv"):
    def make(tmp_path: Path):
        path = _bad_file(tmp_path / name)
        return path, lambda: list(read(path))

    return make


def _brat(tmp_path: Path):
    path = _bad_file(tmp_path / "corpus" / "doc.txt")
    (tmp_path / "corpus" / "doc.ann").write_text("", encoding="utf8")
    return path, lambda: list(read_brat(tmp_path / "corpus"))


def _brat_ann(tmp_path: Path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "doc.txt").write_text("Aspirin.", encoding="utf8")
    path = _bad_file(tmp_path / "corpus" / "doc.ann")
    return path, lambda: list(read_brat(tmp_path / "corpus"))


def _heldout(tmp_path: Path):
    path = _bad_file(tmp_path / "train.tsv")
    return path, lambda: split_heldout(path, tmp_path / "split", 0.5, 0)


def _pretrain_datasets(tmp_path: Path):
    # the datasets library runs the reader: its DatasetGenerationError must not hide E2050
    path = _bad_file(tmp_path / "corpus.txt")
    return path, lambda: build_datasets(path, None, PretrainSettings(), tmp_path / "cache")


def _pretrain_added_corpus(tmp_path: Path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Aspirin inhibits COX-1.\n", encoding="utf8")
    path = _bad_file(tmp_path / "task.txt")
    settings = PretrainSettings(add_corpora=[str(path)])
    return path, lambda: build_datasets(corpus, None, settings, tmp_path / "cache")


READERS = {
    "iob": _reader(read_iob_sentences),
    "conll": _reader(read_conll_sentences, "data.conll"),
    "pubtator": _reader(read_pubtator, "data.pubtator"),
    "bioc-json": _reader(read_bioc_json, "data.json"),
    "brat-txt": _brat,
    "brat-ann": _brat_ann,
    "gad-euadr": _reader(read_binary_re),
    "chemprot-abstracts": _chemprot_abstracts,
    "chemprot-gold": _chemprot_gold,
    "squad": _reader(load_squad_json, "data.json"),
    "pretrain-corpus": _reader(read_documents, "corpus.txt"),
    "pretrain-datasets": _pretrain_datasets,
    "pretrain-added-corpus": _pretrain_added_corpus,
    "re-cv-heldout": _heldout,
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_names_the_bad_line(reader, tmp_path):
    path, read = READERS[reader](tmp_path)
    with pytest.raises(ValueError) as error:
        read()
    _check(error, path)


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    "name,content,read,first",
    [
        # a Windows editor's byte order mark must not become part of the first token
        ("a.tsv", b"-DOCSTART-\tO\n\nAspirin\tB-Chemical\n\n",
         lambda p: [s.words for s in read_iob_sentences(p)], [["Aspirin"]]),
        ("a.conll", b"Aspirin NN B-Chemical\n\n", lambda p: [s.words for s in read_conll_sentences(p)], [["Aspirin"]]),
        ("a.tsv", b"@GENE$ causes @DISEASE$ .\t1\n", lambda p: [r.text for r in read_binary_re(p)],
         ["@GENE$ causes @DISEASE$ ."]),
        ("a.pubtator", b"7|t|Aspirin works.\n7\t0\t7\tAspirin\tChemical\n\n",
         lambda p: [(d.id, d.text) for d in read_pubtator(p)], [("7", "Aspirin works.")]),
        ("corpus.txt", b"Aspirin works.\n", lambda p: list(read_documents(p)), ["Aspirin works."]),
        ("a.json", b'{"data": []}', load_squad_json, []),
    ],
)
def test_a_leading_byte_order_mark_is_dropped(name, content, read, first, tmp_path):
    path = tmp_path / name
    path.write_bytes(BOM + content)
    assert read(path) == first
    assert path.read_bytes() == BOM + content


def test_brat_keeps_the_byte_order_mark_its_offsets_count(tmp_path):
    (tmp_path / "doc.txt").write_bytes(BOM + b"Aspirin works.")
    (tmp_path / "doc.ann").write_text("T1\tChemical 1 8\tAspirin\n", encoding="utf8")
    (doc,) = read_brat(tmp_path)
    start, end = doc.mentions[0][0], doc.mentions[0][1]
    assert doc.text[start:end] == "Aspirin"
