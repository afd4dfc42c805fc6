"""`annotate` on hostile input: one bad record costs itself, never its batch or the run.

Records a component, the tokenizer or the reader fails on are reported (with
file and line) and skipped; the other documents of their batch are written;
an over-long document is annotated; cut or corrupt .gz files give their
complete records; line ids never shift; the CLI exits 3 when records were skipped.
"""

import gzip
import json
from pathlib import Path

import pytest
from spacy.language import Language
from spacy.tokens import Doc
from util import read_records, strip_confidence
from util import run_annotate as run

from spacy_biobert.apps.annotate_pipe import pipe_records

WOMEN = "women with breast cancer were observed ."
PATIENTS = "patients with colorectal cancer"


@pytest.fixture(scope="module")
def trained_nlp(trained_ner_dir):
    import spacy

    return spacy.load(trained_ner_dir)


class Boom(Exception):
    pass


@Language.factory("test_isolation_boom")
def make_boom(nlp, name):
    return BoomPipe()


class BoomPipe:
    """Fails a whole batch (as a model that raises does) when one of its docs says BOOM."""

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs, batch_size=128):
        batch = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == 3:
                yield from self._check(batch)
                batch = []
        yield from self._check(batch)

    def _check(self, batch):
        for doc in batch:
            if "BOOM" in doc.text:
                raise Boom(f"cannot annotate {doc.text!r}")
        return batch


def boom_nlp():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("test_isolation_boom")
    return nlp


@pytest.mark.parametrize("n_process", [1, 2])
def test_annotate_failing_document_costs_only_itself(n_process, tmp_path):
    """The batch of a document the pipeline fails on is redone one by one:
    only that document is reported (file, line, id, reason) and skipped."""
    texts = [f"doc {i}" for i in range(10)]
    texts[4] = "doc 4 BOOM"
    texts[8] = "BOOM again"
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                   encoding="utf8")
    stats, messages = run(boom_nlp(), inp, tmp_path / "out.jsonl", batch_size=3,
                          n_process=n_process, include_text=True)
    records = read_records(tmp_path / "out.jsonl")
    good = [i for i in range(10) if i not in (4, 8)]
    assert [(r["id"], r["text"]) for r in records] == [(f"d{i}", texts[i]) for i in good]
    assert stats.annotated == 8 and stats.bad == 2 == len(messages)
    for message, line, doc_id in zip(messages, (5, 9), ("d4", "d8")):
        assert f"in.jsonl:{line}: bad record {doc_id!r} skipped" in message and "E2631" in message
        assert "Boom: cannot annotate" in message


def test_pipe_records_reports_a_doc_the_tokenizer_fails_on():
    """For library users: a text spaCy's tokenizer raises on (a lone surrogate)
    is reported and skipped, the rest of its batch annotated."""
    import spacy

    nlp = spacy.blank("en")
    records = [("a", "one two", "f:1"), ("b", "x \ud800 y", "f:2"), ("c", "three", "f:3")]
    messages = []
    out = [(doc_id, doc.text) for doc_id, doc in pipe_records(nlp, records, messages.append, batch_size=8)]
    assert out == [("a", "one two"), ("c", "three")]
    (message,) = messages
    assert "f:2: bad record 'b' skipped: making its Doc failed (UnicodeEncodeError" in message


def test_annotate_lone_surrogate_becomes_u_fffd_offsets_kept(trained_nlp, tmp_path):
    """A JSONL text with a lone surrogate ("\\ud800") is annotated with U+FFFD in
    its place, one character for one: the entities keep the offsets of the text
    as read. The other records of the batch are written; an id with one is bad."""
    inp = tmp_path / "in.jsonl"
    inp.write_text(
        '{"id": "a", "text": "\\ud800 women with breast cancer were observed ."}\n'
        + json.dumps({"id": "b", "text": PATIENTS}) + "\n"
        + '{"id": "c\\udc00", "text": "x"}\n',
        encoding="utf8",
    )
    stats, messages = run(trained_nlp, inp, tmp_path / "out.jsonl", include_text=True)
    a, b = read_records(tmp_path / "out.jsonl")
    assert a["text"] == "\ufffd " + WOMEN and b["id"] == "b"
    assert [(e["start_char"], e["end_char"], e["text"]) for e in a["entities"]] == [(13, 26, "breast cancer")]
    assert stats.bad == 1 and "in.jsonl:3:" in messages[0] and "lone surrogate" in messages[0]


def test_annotate_document_over_max_length_is_annotated(trained_nlp, tmp_path):
    """A document longer than nlp.max_length is annotated whole (the limit is
    raised for the run and set back), with the entities and offsets it gets
    under a limit it fits in."""
    long_text = " ".join([WOMEN, PATIENTS] * 20)  # 1459 characters
    inp = tmp_path / "in.txt"
    inp.write_text(f"{PATIENTS}\n{long_text}\n", encoding="utf8")
    run(trained_nlp, inp, tmp_path / "ref.jsonl", include_text=True)
    saved = trained_nlp.max_length
    trained_nlp.max_length = 200
    try:
        stats, messages = run(trained_nlp, inp, tmp_path / "out.jsonl", include_text=True)
        assert trained_nlp.max_length == 200
    finally:
        trained_nlp.max_length = saved
    records = read_records(tmp_path / "out.jsonl")
    assert not messages and stats.annotated == 2
    assert strip_confidence(records) == strip_confidence(read_records(tmp_path / "ref.jsonl"))
    ents = records[1]["entities"]
    assert records[1]["text"] == long_text
    found = [e["text"] for e in ents]
    assert found.count("breast cancer") == 20  # one per copy of WOMEN
    assert all(long_text[e["start_char"]:e["end_char"]] == e["text"] for e in ents)


def test_annotate_invalid_utf8_is_reported_with_its_line(trained_nlp, tmp_path):
    """A line that is not UTF-8 is reported (file, line) and skipped, in every
    line format; the ids of the lines after it do not shift."""
    inp = tmp_path / "in.txt"
    inp.write_bytes(b"women \xff\xfe\n" + PATIENTS.encode() + b"\n")
    stats, messages = run(trained_nlp, inp, tmp_path / "lines.jsonl")
    assert [r["id"] for r in read_records(tmp_path / "lines.jsonl")] == ["2"]
    assert stats.bad == 1 and "in.txt:1: bad record skipped: invalid UTF-8 (byte 0xff" in messages[0]
    # text blocks: the block with the bad line is skipped, the next one annotated
    inp.write_bytes(b"one\ntwo \xc3\n\n" + PATIENTS.encode() + b"\n")
    stats, messages = run(trained_nlp, inp, tmp_path / "text.jsonl", fmt="text")
    assert [r["id"] for r in read_records(tmp_path / "text.jsonl")] == ["4"]
    assert stats.bad == 1 and "in.txt:2: bad record skipped: invalid UTF-8" in messages[0]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_bytes(b'{"id": "x", "text": "\xe9"}\n' + json.dumps({"id": "y", "text": WOMEN}).encode() + b"\n")
    stats, messages = run(trained_nlp, jsonl, tmp_path / "j.jsonl")
    assert [r["id"] for r in read_records(tmp_path / "j.jsonl")] == ["y"]
    assert stats.bad == 1 and "in.jsonl:1: bad record skipped: invalid UTF-8" in messages[0]


def test_annotate_lines_split_on_newline_only_and_bom_removed(trained_nlp, tmp_path):
    """A bare \\r stays in its line (ids do not shift), CRLF ends a line, and a
    UTF-8 BOM at the start of a file is not part of the first record."""
    inp = tmp_path / "in.txt"
    inp.write_bytes(b"\xef\xbb\xbfone\rtwo\r\n" + WOMEN.encode() + b"\r\n")
    run(trained_nlp, inp, tmp_path / "lines.jsonl", include_text=True)
    lines = read_records(tmp_path / "lines.jsonl")
    assert [(r["id"], r["text"]) for r in lines] == [("1", "one\rtwo"), ("2", WOMEN)]
    assert lines[1]["entities"][0]["start_char"] == 11
    run(trained_nlp, inp, tmp_path / "text.jsonl", include_text=True, fmt="text")
    assert [(r["id"], r["text"]) for r in read_records(tmp_path / "text.jsonl")] == [("1", "one\rtwo\n" + WOMEN)]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "text": WOMEN}).encode() + b"\r\n")
    stats, messages = run(trained_nlp, jsonl, tmp_path / "j.jsonl")
    assert [r["id"] for r in read_records(tmp_path / "j.jsonl")] == ["a"] and not messages


def test_annotate_truncated_and_corrupt_gzip(trained_nlp, tmp_path):
    """A .gz cut short gives every complete line before the cut; the cut is
    reported with the file and the last line read; the next file is read. A
    file that is not gzip at all is reported the same way."""
    folder = tmp_path / "in"
    folder.mkdir()
    data = "".join(f"line {i} {WOMEN}\n" for i in range(1, 2001)).encode()
    packed = gzip.compress(data)
    (folder / "a.txt.gz").write_bytes(packed[: len(packed) // 2])
    (folder / "b.txt.gz").write_bytes(b"not gzip\n")
    (folder / "c.txt").write_text(PATIENTS + "\n", encoding="utf8")
    stats, messages = run(trained_nlp, folder, tmp_path / "out.jsonl", fmt="lines", include_text=True)
    records = read_records(tmp_path / "out.jsonl")
    ids = [r["id"] for r in records]
    n = len(ids) - 1
    assert 100 < n < 2000 and ids == [f"a.txt.gz:{i}" for i in range(1, n + 1)] + ["c.txt:1"]
    assert all(r["text"] == f"line {i} {WOMEN}" for i, r in enumerate(records[:n], 1))
    assert stats.bad == 2 and len(messages) == 2
    assert "E2630" in messages[0] and f"a.txt.gz: cannot be read after line {n} (EOFError" in messages[0]
    assert "b.txt.gz: cannot be read after line 0 (BadGzipFile" in messages[1]


def test_annotate_truncated_pubmed_gzip(trained_nlp, tmp_path):
    from test_annotate import PUBMED_XML

    head, rest = PUBMED_XML.split("<PubmedArticleSet>\n")
    article = rest.split("</PubmedArticle>")[0] + "</PubmedArticle>\n"
    xml = head + "<PubmedArticleSet>\n" + "".join(
        article.replace("1001", str(i)) for i in range(1, 801)) + "</PubmedArticleSet>\n"
    packed = gzip.compress(xml.encode())
    inp = tmp_path / "pubmed.xml.gz"
    inp.write_bytes(packed[: len(packed) // 2])
    stats, messages = run(trained_nlp, inp, tmp_path / "out.jsonl")
    ids = [r["id"] for r in read_records(tmp_path / "out.jsonl")]
    n = len(ids)
    assert 10 < n < 800 and ids == [str(i) for i in range(1, n + 1)]
    assert stats.bad == 1 and f"pubmed.xml.gz: cannot be read after article {n} (EOFError" in messages[0]


def test_cli_annotate_exit_status(ner_dir, tmp_path):
    """0: every record annotated; 3: the run finished but skipped bad records
    (also when every record was bad); 1 stays for errors."""
    from typer.testing import CliRunner

    from spacy_biobert.cli import app

    def invoke(text):
        inp = tmp_path / "in.jsonl"
        inp.write_text(text, encoding="utf8")
        return CliRunner().invoke(app, ["annotate", str(ner_dir), str(inp), str(tmp_path / "out.jsonl"),
                                        "--overwrite"])

    good = json.dumps({"id": "a", "text": WOMEN}) + "\n"
    assert invoke(good).exit_code == 0
    result = invoke(good + "{bad json\n")
    assert result.exit_code == 3 and "1 bad records were skipped" in result.output
    assert [r["id"] for r in read_records(tmp_path / "out.jsonl")] == ["a"]
    assert invoke("{bad json\n").exit_code == 3
    assert invoke(good + '{"id": "a", "text": "twice"}\n').exit_code == 3
    missing = CliRunner().invoke(app, ["annotate", str(ner_dir), str(tmp_path / "in.jsonl"),
                                       str(Path(tmp_path / "out.jsonl")), "--format", "csv"])
    assert missing.exit_code == 1


@Language.component("test_isolation_fragile")
def fragile(doc: Doc) -> Doc:
    if "BOOM" in doc.text:
        raise Boom(doc.text)
    return doc


def test_pipe_records_a_document_an_error_handler_drops_is_reported():
    """With a non-raising error handler spaCy drops the failing document
    silently; pipe_records tries it alone and reports it (the others are kept)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("test_isolation_fragile")
    nlp.set_error_handler(lambda name, proc, docs, e: None)
    records = [(str(i), t, f"f:{i}") for i, t in enumerate(["a", "b BOOM", "c", "d"])]
    messages = []
    out = [doc_id for doc_id, _ in pipe_records(nlp, records, messages.append, batch_size=2)]
    assert out == ["0", "2", "3"]
    assert len(messages) == 1 and "f:1: bad record '1' skipped: the pipeline failed" in messages[0]
    assert "error handler dropped it" in messages[0]


def test_annotate_input_errors_still_raise(ner_dir, tmp_path):
    """An error that is no record's fault (the input is gone) is raised, not
    taken for a failing document."""
    import spacy

    with pytest.raises(ValueError, match=r"\[E2615\]"):
        run(spacy.load(ner_dir), tmp_path / "gone.txt", tmp_path / "out.jsonl")


def test_read_cut_gzip_keeps_exactly_the_complete_records(tmp_path):
    """Cut right after a flush point, a .gz decompresses to exactly what came
    before it: the complete lines are read, a partial last line is dropped, and
    in text blocks the block being read at the cut (maybe not whole) too."""
    import io

    from spacy_biobert.apps.annotate import read_lines, read_text_blocks

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
        f.write(b"a1\nb1\n\na2\nb2")
        f.flush()  # a sync flush: every byte so far can be decompressed
        cut = buffer.tell()
        f.write(b" rest\n\n" * 1000)
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(buffer.getvalue()[:cut])
    messages = []
    assert list(read_lines(path, messages.append)) == [("1", "a1", 1), ("2", "b1", 2), ("3", "", 3), ("4", "a2", 4)]
    assert list(read_text_blocks(path, messages.append)) == [("1", "a1\nb1", 1)]
    assert len(messages) == 2 and all("cut.txt.gz: cannot be read after line 4 (EOFError" in m for m in messages)
