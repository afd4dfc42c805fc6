"""Smoke test of the throughput benchmark script on a tiny BERT (figures not checked)."""

import json

from spacy_biobert.benchmarks.throughput import DEFAULT_TEXTS, ROOT, main


def test_benchmarks_throughput_default_texts_inside_project():
    assert DEFAULT_TEXTS == ROOT / "assets" / "ner" / "ncbi_disease" / "test.tsv"


def test_benchmarks_throughput_runs(tiny_bert, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("women with breast cancer .\npatients with colon cancer\nthe apc gene\n" * 4, encoding="utf8")
    results = main([
        "--base-model", str(tiny_bert), "--texts", str(texts), "--limit", "10",
        "--batch-size", "4", "--rounds", "2", "--stream-docs", "5,10", "--lengths", "50,200",
        "--repeats", "1", "--quantize", "--output", str(tmp_path / "r.json"),
        "--markdown", str(tmp_path / "r.md"),
    ])
    rows = results["throughput"]
    assert set(rows) == {"spacy_one_pass", "spacy", "hf", "bare_sorted", "bare"}
    assert all(r["docs"] == 10 for r in rows.values())
    assert all(len(r["round_seconds"]) == 2 for r in rows.values())
    assert all(r["words_per_second"] > 0 for r in list(rows.values()) + list(results["int8"].values()))
    assert rows["spacy"]["entities"] == rows["spacy_one_pass"]["entities"]
    assert [r["words"] for r in results["time_vs_length"]] == [50, 200]
    assert [r["docs"] for r in results["memory_vs_docs"]] == [5, 10]
    assert results["breakdown"]["total_seconds"] > 0
    assert json.loads((tmp_path / "r.json").read_text())["ratios"]["spaCy / limit"] > 0
    assert "| method | words/s |" in (tmp_path / "r.md").read_text()


def test_benchmarks_throughput_f1(tiny_bert, tmp_path):
    iob = tmp_path / "test.tsv"
    iob.write_text("women\tO\nwith\tO\nbreast\tB\ncancer\tI\n\nthe\tO\napc\tO\ngene\tO\n", encoding="utf8")
    results = main([
        "--base-model", str(tiny_bert), "--texts", str(iob), "--rounds", "1", "--stream-docs", "",
        "--lengths", "", "--no-breakdown", "--quantize", "--f1",
    ])
    assert set(results["f1"]) == {"fp32", "int8", "int8 F1 cost (points)"}
    assert results["f1"]["fp32"]["n_sentences"] == 2
