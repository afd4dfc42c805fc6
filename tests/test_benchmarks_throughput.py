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
        "--markdown", str(tmp_path / "r.md"), "--onnx-cache", str(tmp_path / "onnx"),
    ])
    rows = results["throughput"]
    assert set(rows) == {"spacy_one_pass", "spacy", "hf", "bare_sorted", "bare", "onnx_fp32_spacy",
                         "onnx_fp32_bare", "onnx_int8_spacy", "onnx_int8_bare"}
    # the ONNX arms ran on ONNX Runtime: one export per precision in the cache
    assert sorted(p.name.split("-", 1)[1] for p in (tmp_path / "onnx").glob("*.onnx")) == [
        "onnx-fp32.onnx", "onnx-int8.onnx"]
    assert rows["onnx_fp32_spacy"]["entities"] == rows["spacy"]["entities"]
    assert (rows["onnx_fp32_spacy"]["runtime"], rows["onnx_int8_spacy"]["runtime"]) == ("onnx-fp32", "onnx-int8")
    assert set(results["ratios"]) >= {"onnx-int8 nlp.pipe / eager nlp.pipe", "onnx-int8 nlp.pipe / onnx-int8 bare"}
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
        "--lengths", "", "--no-breakdown", "--quantize", "--f1", "--onnx-cache", str(tmp_path / "onnx"),
    ])
    assert set(results["f1"]) == {"fp32", "int8", "int8 F1 cost (points)", "onnx-fp32", "onnx-int8",
                                  "onnx-fp32 F1 cost (points)", "onnx-int8 F1 cost (points)"}
    assert results["f1"]["fp32"]["n_sentences"] == 2
    # fp32 on ONNX Runtime predicts what eager predicts (an untrained model's entities included)
    assert results["f1"]["onnx-fp32"]["n_pred_entities"] == results["f1"]["fp32"]["n_pred_entities"]
    assert results["f1"]["onnx-fp32 F1 cost (points)"] == 0
