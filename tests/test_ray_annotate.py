"""`spacy-biobert annotate-ray` on a local Ray instance, against `annotate`."""

import json
import sys

import pytest
from util import make_texts, read_records, strip_confidence

from spacy_biobert.apps.annotate import annotate
from spacy_biobert.apps.ray_annotate import annotate_ray, require_ray


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance (2 CPUs, no dashboard) for the module."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """60 JSONL documents, with 3 bad records (invalid JSON, no text, a duplicate id)."""
    path = tmp_path_factory.mktemp("ray_annotate") / "in.jsonl"
    lines = [json.dumps({"id": f"d{i}", "text": t}) for i, t in enumerate(make_texts(60, seed=3))]
    lines.insert(5, "{not json")
    lines.insert(20, json.dumps({"id": "x"}))
    lines.insert(40, json.dumps({"id": "d7", "text": "again"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


@pytest.fixture(scope="module")
def reference(ner_dir, corpus):
    """What single-process `annotate` writes for the corpus, and its messages."""
    import spacy

    messages = []
    out = corpus.parent / "reference.jsonl"
    annotate(spacy.load(ner_dir), corpus, out, batch_size=8, report=messages.append,
             show_progress=False)
    return read_records(out), messages


def run_ray(ner_dir, inp, out, **kwargs):
    messages = []
    stats = annotate_ray(str(ner_dir), inp, out, num_workers=2, batch_size=8,
                         report=messages.append, show_progress=False, **kwargs)
    return stats, messages


def by_id(records):
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "duplicate ids"
    return {r["id"]: r for r in strip_confidence(records)}


def test_ray_annotate_equals_annotate_and_skips_bad_records(ray_local, ner_dir, corpus, reference, tmp_path):
    ref_records, ref_messages = reference
    out = tmp_path / "out.jsonl"
    stats, messages = run_ray(ner_dir, corpus, out)
    records = read_records(out)
    assert len(ref_records) == 60
    assert by_id(records) == by_id(ref_records)
    assert stats.annotated == 60 and stats.done_before == 0 and stats.words > 0
    # bad records: reported (same messages as annotate) and counted, never annotated
    assert stats.bad == 3 and sorted(messages) == sorted(ref_messages)
    assert any("invalid JSON" in m and "in.jsonl:6:" in m for m in messages)
    assert any("E2619" in m and "duplicate id 'd7'" in m for m in messages)
    assert "x" not in by_id(records)
    counts = stats.to_dict()
    assert counts["workers"] == 2 and counts["docs_per_second"] > 0


def test_ray_annotate_cli_resumes_partial_output(ray_local, ner_dir, corpus, reference, tmp_path):
    """`annotate-ray` after pre-written records and a line cut short: nothing lost,
    nothing duplicated; --preserve-order gives the very list `annotate` writes."""
    from typer.testing import CliRunner

    from spacy_biobert.cli import app

    ref_records, _ = reference
    ref_lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in ref_records]
    out, summary = tmp_path / "out.jsonl", tmp_path / "counts.json"
    out.write_text("".join(ref_lines[:25]) + ref_lines[25][:20], encoding="utf8")
    result = CliRunner().invoke(app, [
        "annotate-ray", str(ner_dir), str(corpus), str(out), "--workers", "2",
        "--batch-size", "8", "--preserve-order", "--no-progress", "--summary", str(summary),
    ])
    assert result.exit_code == 3, result.output  # done, but bad records were skipped
    counts = json.loads(summary.read_text(encoding="utf8"))
    assert counts["done_before"] == 25 and counts["truncated_bytes"] == 20
    assert counts["annotated"] == 35 and counts["bad"] == 3 and counts["workers"] == 2
    assert counts["seconds"] > 0 and counts["docs_per_second"] > 0
    assert strip_confidence(read_records(out)) == strip_confidence(ref_records)
    # nothing left: no workers started, nothing written
    stats, messages = run_ray(ner_dir, corpus, out)
    assert stats.annotated == 0 and stats.done_before == 60 and stats.seconds == 0
    assert stats.bad == 3 and len(messages) == 3
    assert len(read_records(out)) == 60


def test_ray_annotate_without_ray(monkeypatch, ner_dir, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(ImportError, match=r'E2620.*pip install "spacy-biobert\[ray\]"'):
        require_ray()
    inp = tmp_path / "in.txt"
    inp.write_text("cancer\n", encoding="utf8")
    with pytest.raises(ImportError, match=r"\(spacy-biobert\) \[E2620\]"):
        annotate_ray(str(ner_dir), inp, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    from typer.testing import CliRunner

    from spacy_biobert.cli import app

    result = CliRunner().invoke(app, ["annotate-ray", str(ner_dir), str(inp), str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1 and "spacy-biobert[ray]" in result.output


def test_ray_annotate_refuses_ray_client(tmp_path):
    pytest.importorskip("ray.data")
    inp = tmp_path / "in.txt"
    inp.write_text("cancer\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2622\].*--address auto"):
        annotate_ray("unused", inp, tmp_path / "out.jsonl", address="ray://head:10001")
