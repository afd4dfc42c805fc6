"""JNLPBA's train split and Species-800's splits derived from their public
sources (spacy_biobert/apps/derive.py): JNLPBA from the mirror's copy of
BaderLab's file, byte for byte; S800 on a reconstruction made from the mirror's
own S800 files (the mirror lacks S800's sources: BaderLab's whole-corpus file,
the standoff texts and the split lists are only fetched online)."""

import hashlib
import re
from pathlib import Path
from typing import Dict, List

import pytest
import srsly
from typer.testing import CliRunner

from spacy_biobert.apps.derive import (
    DOCSTART,
    RESULTS,
    SOURCES,
    derive_dataset,
    derive_texts,
    fetch_sources,
    jnlpba_from_baderlab,
    s800_from_sources,
)
from spacy_biobert.cli import app

ROOT = Path(__file__).parent.parent


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_derive_jnlpba_train_from_mirror_source(shared_data, tmp_path):
    folder = shared_data / "ner" / "jnlpba"
    sources = folder / "source_baderlab"
    assert _md5((sources / "train.tsv").read_bytes()) == SOURCES["jnlpba"]["train.tsv"][1]
    written = derive_dataset("jnlpba", tmp_path / "out", sources, offline=True)
    assert written == [tmp_path / "out" / "train.tsv"]
    got = written[0].read_bytes()
    assert got == (folder / "train.tsv").read_bytes()
    assert _md5(got) == RESULTS["jnlpba"]["train.tsv"]
    # the same mapping gives MTL's dev and test, which are fetched from MTL directly
    for src, mtl in (("valid.tsv", "dev.tsv"), ("test.tsv", "test.tsv")):
        mapped = jnlpba_from_baderlab((sources / src).read_text(encoding="utf8"))
        assert mapped.encode("utf8") == (folder / mtl).read_bytes()


def test_derive_jnlpba_maps_only_the_tag_column():
    text = "PRGE\tB-PRGE\nIL-2\tI-PRGE\nT\tB-CLLN\ncells\tI-CLTP\nx\tB-DNA\n\n"
    assert jnlpba_from_baderlab(text) == "PRGE\tB-protein\nIL-2\tI-protein\nT\tB-cell_line\ncells\tI-cell_type\nx\tB-DNA\n\n"


def test_derived_assets_in_project_yml_match_the_derivation():
    assets = [a for a in srsly.read_yaml(ROOT / "project.yml")["assets"] if a.get("derive")]
    derived = {(a["derive"], Path(a["dest"]).name): a for a in assets}
    assert set(derived) == {(name, f) for name, files in RESULTS.items() for f in files}
    for (name, fname), asset in derived.items():
        assert asset["dest"] == f"assets/ner/{name}/{fname}"
        assert asset["checksum"] == RESULTS[name][fname]
        assert "url" not in asset  # no URL serves the derived file as-is


# ---- Species-800 on a reconstruction of its sources from the mirror's files


def _docs(text: str) -> List[str]:
    """A mirror S800 file -> its documents (each: sentences + blank lines)."""
    head, *docs = text.split(DOCSTART + "\n\n")
    assert head == ""
    return docs


def _raw_text(doc: str) -> str:
    """A document as raw text, the way a standoff .txt file holds it: no space
    before punctuation, title on its own line, sentences after one space."""
    sentences = []
    for sent in doc.strip("\n").split("\n\n"):
        text = " ".join(line.split("\t")[0] for line in sent.split("\n"))
        sentences.append(re.sub(r" ([.,;:)])", r"\1", text).replace("( ", "("))
    return sentences[0] + "\n\n" + " ".join(sentences[1:]) + "\n"


def _reconstruct(shared_data: Path, counts: Dict[str, int]):
    """The first documents of each mirror split, interleaved into one corpus the
    way BaderLab's file holds it (no document lines), their raw texts under
    made-up ids and split lists. RETURNS: (whole, texts, splits, expected)."""
    folder = shared_data / "ner" / "s800"
    picked = {
        split: _docs((folder / f"{out}.tsv").read_text(encoding="utf8"))[:n]
        for (split, out), n in zip((("train", "train"), ("devel", "dev"), ("test", "test")), counts.values())
    }
    expected = {out: "".join(DOCSTART + "\n\n" + d for d in picked[split]) for split, out in (("train", "train"), ("devel", "dev"), ("test", "test"))}
    order = [(s, i) for i in range(max(counts.values())) for s in ("train", "devel", "test") if i < len(picked[s])]
    whole, texts, splits = "", {}, {"train": [], "devel": [], "test": []}
    for k, (split, i) in enumerate(order):
        pmid = str(30000000 + 7 * k)
        doc = picked[split][i]
        whole += doc
        texts[pmid] = _raw_text(doc)
        splits[split].append(pmid)
    return whole, texts, splits, expected


def test_derive_s800_from_reconstructed_sources(shared_data, tmp_path):
    assert len(srsly.read_json(shared_data / "ner" / "s800" / "doc_order.json")) == 800
    whole, texts, splits, expected = _reconstruct(shared_data, {"train": 4, "devel": 2, "test": 3})
    # the texts differ from the tokens: the alignment ignores whitespace only
    assert all(" ." not in t for t in texts.values()) and "\tO\n" in whole
    out = s800_from_sources(whole, dict(sorted(texts.items(), reverse=True)), splits)
    assert out == expected
    # the same from files laid out as the downloaded sources are
    sources = tmp_path / "sources"
    (sources / "split").mkdir(parents=True)
    (sources / "original-standoff").mkdir()
    (sources / "train.tsv").write_text(whole, encoding="utf8")
    for split, ids in splits.items():
        (sources / "split" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf8")
    for pmid, text in texts.items():
        (sources / "original-standoff" / f"{pmid}.txt").write_text(text, encoding="utf8")
    fetch_sources("s800", sources, offline=True)  # all present: nothing to fetch
    got = derive_texts("s800", sources)
    assert {k: v.encode("utf8") for k, v in got.items()} == {f"{k}.tsv": v.encode("utf8") for k, v in expected.items()}
    # a partial corpus is not the pinned one: the result's md5 is refused
    with pytest.raises(ValueError, match="E2656"):
        derive_dataset("s800", tmp_path / "out", sources, offline=True)
    assert not (tmp_path / "out").exists()


def test_derive_s800_refuses_mismatched_sources(shared_data):
    whole, texts, splits, _ = _reconstruct(shared_data, {"train": 2, "devel": 1, "test": 1})
    first = sorted(texts)[0]
    # one character changed, or one added: the document's sentences are not it
    for changed in (texts[first].replace("a", "o", 1), texts[first] + "x"):
        with pytest.raises(ValueError, match="E2650"):
            s800_from_sources(whole, {**texts, first: changed}, splits)
    with pytest.raises(ValueError, match="E2651"):
        s800_from_sources(whole, {**texts, "39999999": "Not in the corpus."}, splits)
    with pytest.raises(ValueError, match="E2652"):
        s800_from_sources(whole, texts, {**splits, "test": splits["test"] + [first]})
    with pytest.raises(ValueError, match="E2652"):
        s800_from_sources(whole, texts, {**splits, "train": splits["train"][1:]})


def test_derive_offline_without_sources_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="E2654"):
        fetch_sources("s800", tmp_path / "none", offline=True)
    with pytest.raises(ValueError, match="E2653"):
        fetch_sources("ncbi_disease", tmp_path, offline=True)


# ---- the CLI: `derive`, and `assets` deriving when the mirror lacks the file


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_assets_derives_jnlpba_without_mirror(shared_data, tmp_path):
    project = tmp_path / "project"
    sources = project / "assets" / "sources" / "jnlpba"
    sources.mkdir(parents=True)
    (sources / "train.tsv").write_bytes((shared_data / "ner" / "jnlpba" / "source_baderlab" / "train.tsv").read_bytes())
    (project / "project.yml").write_text(
        "title: t\nassets:\n"
        '  - dest: "assets/ner/jnlpba/train.tsv"\n'
        '    derive: "jnlpba"\n'
        f'    checksum: "{RESULTS["jnlpba"]["train.tsv"]}"\n',
        encoding="utf8",
    )
    result = _invoke("assets", project, "--offline")
    assert result.exit_code == 0, result.output
    target = project / "assets" / "ner" / "jnlpba" / "train.tsv"
    assert "derived from the public sources of jnlpba" in _flat(result.output)
    assert _md5(target.read_bytes()) == RESULTS["jnlpba"]["train.tsv"]
    # without the sources, offline: one line naming what is missing
    other = tmp_path / "other"
    other.mkdir()
    (other / "project.yml").write_text((project / "project.yml").read_text(encoding="utf8"), encoding="utf8")
    result = _invoke("assets", other, "--offline")
    assert result.exit_code == 1 and "E2654" in _flat(result.output) and "Traceback" not in result.output
    # the derive command from the mirror's copy
    result = _invoke("derive", "jnlpba", tmp_path / "d", "--sources", shared_data / "ner" / "jnlpba" / "source_baderlab", "--offline")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "train.tsv").read_bytes() == target.read_bytes()
