"""The reliability benchmark counts honestly: its expectations come from the
corpus it built, a duplicated or lost record is seen, and exit codes outside
--allowed-exit (or a traceback) are crashes."""

import json
import sys

from spacy_biobert.benchmarks.reliability import account, main, one_run, read_output
from spacy_biobert.benchmarks.reliability_corpus import build_corpus


def test_reliability_corpus_expectations(tmp_path):
    corpus = build_corpus(tmp_path, n_records=40, n_random=0, big_chars=0)
    jsonl, lines, pubmed = (corpus.expected[k] for k in ("jsonl", "lines", "pubmed"))
    # a.jsonl: 2 duplicates + 20 bad kinds; blank lines are skipped, not bad
    assert jsonl.bad == 22
    assert {"bom", "r0", "r39", "7", "empty", "surrogate", str(10**30)} <= set(jsonl.good)
    assert not {"x1", "x4", "x6", "x9", ""} & set(jsonl.good)
    gz = sorted((i for i in jsonl.good if i.startswith("g")), key=lambda i: int(i[1:]))
    assert gz == [f"g{i}" for i in range(len(gz))] and 0 < len(gz) < 20
    assert len(gz) + jsonl.either + jsonl.unreadable == 20
    # a.txt: line ids, BOM dropped, a bare \r inside a line, 3 invalid UTF-8 lines
    assert lines.bad == 3 and lines.good["a.txt:1"] == "women with breast cancer ."
    assert "colon\rcancer bare carriage return" in lines.good.values()
    assert len(lines.good) + lines.bad == 41 + 11
    assert pubmed.bad == 3 and len(pubmed.good) == 10 and "200000" not in pubmed.good


def test_reliability_accounting(ner_dir, tmp_path):
    """One annotate run over the PubMed input, killed once and resumed; then a
    record appended twice and one deleted from its output are counted."""
    results = main([
        "--model", str(ner_dir), "--workdir", str(tmp_path), "--records", "40", "--random", "0",
        "--big-chars", "0", "--kills", "1", "--arms", "annotate1", "--inputs", "pubmed",
        "--output", str(tmp_path / "r.json"),
    ])
    row = results["arms"]["annotate1"]
    assert row["kills"] == 1 and row["exit_codes"][0] == -9 and row["crashes"] == 0
    assert (row["records_in"], row["records_out"], row["lost"], row["duplicates"]) == (10, 10, 0, 0)
    assert row["reported_bad"] == row["expected_bad"] == 3
    assert results["goal"] == {"lost": 0, "duplicates": 0, "crashes": 0, "met": True}
    assert json.loads((tmp_path / "r.json").read_text())["goal"]["met"] is True

    out = tmp_path / "annotate1" / "pubmed.jsonl"
    corpus = build_corpus(tmp_path / "again", n_records=40, n_random=0, big_chars=0, inputs=("pubmed",))
    exp = corpus.expected["pubmed"]
    records = out.read_text(encoding="utf8").splitlines()
    out.write_text("\n".join(records + [records[3]]) + "\n", encoding="utf8")
    counts = account(*read_output(out), exp=exp)
    assert (counts["duplicates"], counts["lost"], counts["records_out"]) == (1, 0, 11)
    out.write_text("\n".join(records[:3] + records[4:]) + "\n", encoding="utf8")
    counts = account(*read_output(out), exp=exp)
    assert (counts["duplicates"], counts["lost"], counts["records_out"]) == (0, 1, 9)
    out.write_text("\n".join(records) + '\n{"id": "nope"}\n{"id": "cut', encoding="utf8")
    counts = account(*read_output(out), exp=exp)
    assert (counts["unexpected"], counts["corrupt_lines"], counts["lost"]) == (1, 1, 0)


def test_reliability_crashes_by_exit_code_and_traceback(tmp_path):
    def run(code, allowed, stall=60):
        return one_run([sys.executable, "-c", code], tmp_path / "out", None, allowed, 60, tmp_path / "log", stall)

    assert run("import sys; sys.exit(3)", {0, 3})["crash"] is False
    assert run("import sys; sys.exit(3)", {0})["crash"] is True
    bad = run("raise KeyError('boom')", {0, 1, 3})
    assert bad["crash"] is True and bad["error"] == "KeyError: 'boom'"
    assert run("import sys; sys.stderr.write('Traceback (most recent call last):\\n')", {0})["crash"] is True
    hung = run("import time; time.sleep(60)", {0}, stall=0.5)
    assert hung["timed_out"] is True and hung["crash"] is True and hung["exit_code"] == -9
