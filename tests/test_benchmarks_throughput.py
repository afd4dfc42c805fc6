"""Smoke test of the throughput benchmark script on a tiny BERT (figures not checked)."""

import json

from spacy_biobert.benchmarks.throughput import main


def test_benchmarks_throughput_runs(tiny_bert, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("women with breast cancer .\npatients with colon cancer\nthe apc gene\n" * 4, encoding="utf8")
    results = main([
        "--base-model", str(tiny_bert), "--texts", str(texts), "--limit", "10",
        "--batch-size", "4", "--stream-docs", "5,10", "--lengths", "50,200", "--repeats", "1",
        "--quantize", "--output", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"),
    ])
    assert [r["docs"] for r in results["throughput"]] == [10, 10, 10]
    assert all(r["words_per_second"] > 0 for r in results["throughput"] + results["int8"])
    assert [r["words"] for r in results["time_vs_length"]] == [50, 200]
    assert [r["docs"] for r in results["memory_vs_docs"]] == [5, 10]
    assert json.loads((tmp_path / "r.json").read_text())["ratios"]["spaCy / bare"] > 0
    assert "| method | words/s |" in (tmp_path / "r.md").read_text()
