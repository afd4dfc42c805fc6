"""The output rules of `spacy-biobert annotate` / `annotate-ray`: the input is
never harmed, only regular files are resumed (stdout and /dev/null are
streamed), the resume scan is bounded, and one run at a time writes an output."""

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner
from util import make_texts, read_records, strip_confidence
from util import run_annotate as run

from spacy_biobert.apps import annotate_output
from spacy_biobert.apps.annotate import annotate, read_done_ids
from spacy_biobert.apps.annotate_output import AnnotateOutput
from spacy_biobert.cli import app


@pytest.fixture(scope="module")
def nlp(ner_dir):
    import spacy

    return spacy.load(ner_dir)


def write_jsonl(path: Path, n: int, *, trailing_newline: bool = True) -> bytes:
    lines = [json.dumps({"id": f"d{i}", "text": t}) for i, t in enumerate(make_texts(n, seed=5))]
    data = ("\n".join(lines) + ("\n" if trailing_newline else "")).encode("utf8")
    path.write_bytes(data)
    return data


# ---------------------------------------------------------------------------
# 1. the output is never the input


@pytest.mark.parametrize("trailing_newline", [False, True])
@pytest.mark.parametrize("overwrite", [False, True])
def test_output_is_input_is_refused(nlp, tmp_path, trailing_newline, overwrite):
    inp = tmp_path / "in.jsonl"
    data = write_jsonl(inp, 4, trailing_newline=trailing_newline)
    with pytest.raises(ValueError, match=r"\[E2640\]") as e:
        run(nlp, inp, inp, overwrite=overwrite)
    assert str(inp) in str(e.value) and "is the input" in str(e.value)
    assert inp.read_bytes() == data


def test_output_is_input_through_links_is_refused(nlp, tmp_path):
    inp = tmp_path / "in.jsonl"
    data = write_jsonl(inp, 3, trailing_newline=False)
    (tmp_path / "sym.jsonl").symlink_to(inp)
    os.link(inp, tmp_path / "hard.jsonl")
    for out in (tmp_path / "sym.jsonl", tmp_path / "hard.jsonl"):
        for overwrite in (False, True):
            with pytest.raises(ValueError, match=r"\[E2640\]"):
                run(nlp, inp, out, overwrite=overwrite)
    assert inp.read_bytes() == data


def test_output_inside_input_folder_is_refused(nlp, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    data = write_jsonl(folder / "a.jsonl", 3)
    # not there yet (it would be read as input while written), the folder
    # itself, and a hard link to one of its files from outside
    os.link(folder / "a.jsonl", tmp_path / "hard.jsonl")
    for out, code in ((folder / "out.jsonl", "E2641"), (folder / "sub" / "out.jsonl", "E2641"),
                      (folder, "E2641"), (tmp_path / "hard.jsonl", "E2640")):
        with pytest.raises(ValueError, match=rf"\[{code}\]"):
            run(nlp, folder, out, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["a.jsonl"]
    assert (folder / "a.jsonl").read_bytes() == data


def test_cli_output_is_input_is_one_line(ner_dir, tmp_path):
    inp = tmp_path / "in.jsonl"
    data = write_jsonl(inp, 2, trailing_newline=False)
    result = CliRunner().invoke(app, ["annotate", str(ner_dir), str(inp), str(inp), "--overwrite"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "[E2640]" in result.output
    # checked before the pipeline loads (that one would be E2703)
    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "no_model"), str(inp), str(inp)])
    assert result.exit_code == 1 and "[E2640]" in result.output, result.output
    assert inp.read_bytes() == data


# ---------------------------------------------------------------------------
# 2. what an output may be


def test_outputs_that_cannot_be_resumed_are_refused(nlp, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("a\n", encoding="utf8")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    for out, kind in (("/dev/full", "character device"), (fifo, "FIFO"), (folder, "folder")):
        with pytest.raises(ValueError, match=r"\[E2642\]") as e:
            run(nlp, inp, Path(out))
        assert str(out) in str(e.value) and kind in str(e.value)
    assert list(folder.iterdir()) == []


def test_dev_null_output_runs_without_resume(nlp, tmp_path, monkeypatch):
    """/dev/null (for timing runs): everything annotated each time, nothing
    resumed, not synced (fsync fails with EINVAL on a character device)."""
    real_fsync = os.fsync
    synced = []

    def fsync(fd):
        synced.append(stat.S_ISREG(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(5, seed=6)) + "\n", encoding="utf8")
    for _ in range(2):
        stats, messages = run(nlp, inp, Path(os.devnull))
        assert (stats.annotated, stats.done_before, messages) == (5, 0, [])
    assert synced == [] and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    run(nlp, inp, tmp_path / "out.jsonl")  # a file is still synced
    assert synced == [True]


def test_stdout_output(nlp, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a file named '-' would land here
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(6, seed=7)) + "\n", encoding="utf8")
    ref = tmp_path / "ref.jsonl"
    run(nlp, inp, ref)
    capfd.readouterr()
    stats, _ = run(nlp, inp, Path("-"))
    out, err = capfd.readouterr()
    assert stats.annotated == 6 and not Path("-").exists()
    records = [json.loads(line) for line in out.splitlines()]
    assert strip_confidence(records) == strip_confidence(read_records(ref))


def test_cli_stdout_output_keeps_messages_off_stdout(ner_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(3, seed=8)) + "\n", encoding="utf8")
    result = CliRunner().invoke(app, ["annotate", str(ner_dir), str(inp), "-"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["1", "2", "3"]
    assert "3 documents annotated" in result.stderr and not (tmp_path / "-").exists()


def test_resume_scan_is_bounded(tmp_path, monkeypatch):
    """A line longer than the bound is an error naming file and line; nothing is truncated."""
    monkeypatch.setattr(annotate_output, "MAX_LINE_BYTES", 100)
    out = tmp_path / "out.jsonl"
    long_line = json.dumps({"id": "x", "entities": [], "pad": "y" * 200}) + "\n"
    out.write_text('{"id": "a", "entities": []}\n' + long_line, encoding="utf8")
    with pytest.raises(ValueError, match=r"\[E2644\]") as e:
        read_done_ids(out)
    assert f"{out}:2" in str(e.value) and "100 bytes" in str(e.value)
    # a last line without its newline, longer than the bound: not a record cut by a kill
    data = b'{"id": "a", "entities": []}\n' + b"z" * 300
    out.write_bytes(data)
    with pytest.raises(ValueError, match=r"\[E2644\]") as e:
        read_done_ids(out)
    assert "last line" in str(e.value)
    assert out.read_bytes() == data


def test_foreign_partial_last_line_is_not_truncated(tmp_path):
    """Only a cut record is truncated: a foreign file is refused as it is."""
    out = tmp_path / "out.jsonl"
    for data in (b'{"id": "a", "entities": []}\nsome text', b"hello\nworld"):
        out.write_bytes(data)
        with pytest.raises(ValueError, match=r"\[E2617\]"):
            read_done_ids(out)
        assert out.read_bytes() == data
    out.write_bytes(b'{"id": "a", "entities": []}\n{"id": "b", "ent')
    assert read_done_ids(out) == ({"a"}, 16)


# ---------------------------------------------------------------------------
# 3. one run at a time


LOCKER = (
    "import fcntl, sys, time\n"
    "f = open(sys.argv[1], 'ab')\n"
    "fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


def test_second_run_on_one_output_fails_fast(nlp, tmp_path):
    """Another process writes the output: refused (also --overwrite, which
    must not empty it); once that process is killed, the run resumes."""
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(4, seed=9)) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    run(nlp, inp, out)
    first = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(out)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"locked\n"
        for overwrite in (False, True):
            with pytest.raises(ValueError, match=r"\[E2643\]") as e:
                run(nlp, inp, out, overwrite=overwrite)
            assert str(out) in str(e.value) and "another annotate run" in str(e.value)
            assert out.read_bytes() == first
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    stats, _ = run(nlp, inp, out)  # the kernel dropped the dead process's lock
    assert (stats.done_before, stats.annotated) == (4, 0)


def test_lock_is_held_for_the_whole_run(nlp, tmp_path):
    """While a run writes (here: in its pipeline), a second one is refused;
    both in one process, as flock locks belong to the open file description."""
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(make_texts(3, seed=10)) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    refused = []

    def second_run(texts):
        for item in texts:
            if not refused:
                with pytest.raises(ValueError, match=r"\[E2643\]"):
                    run(nlp, inp, out)
                refused.append(True)
            yield item

    class Spy:
        def __getattr__(self, name):
            return getattr(nlp, name)

        def pipe(self, texts, **kwargs):
            return nlp.pipe(second_run(texts), **kwargs)

    stats = annotate(Spy(), inp, out, report=lambda m: None, show_progress=False)
    assert refused == [True] and stats.annotated == 3
    assert [r["id"] for r in read_records(out)] == ["1", "2", "3"]
    with AnnotateOutput.open(out) as held:  # released at the end of the run
        assert held.done == {"1", "2", "3"}


# ---------------------------------------------------------------------------
# annotate-ray: the same output rules, checked before Ray starts


def test_ray_output_rules(ner_dir, tmp_path, monkeypatch):
    pytest.importorskip("ray.data")
    monkeypatch.chdir(tmp_path)  # a file named '-' would land here
    from spacy_biobert.apps.ray_annotate import annotate_ray

    def run_ray(inp, out, **kwargs):
        return annotate_ray(str(ner_dir), inp, out, num_workers=1, report=lambda m: None,
                            show_progress=False, **kwargs)

    inp = tmp_path / "in.jsonl"
    data = write_jsonl(inp, 3, trailing_newline=False)
    with pytest.raises(ValueError, match=r"\[E2640\]"):
        run_ray(inp, inp, overwrite=True)
    assert inp.read_bytes() == data
    with pytest.raises(ValueError, match=r"\[E2645\]"):
        run_ray(inp, Path("-"))
    with pytest.raises(ValueError, match=r"\[E2642\]"):
        run_ray(inp, Path("/dev/full"))
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "d0", "entities": []}\n{"id": "d1", "entities": []}\n', encoding="utf8")
    with AnnotateOutput.open(out):  # another run holds it
        with pytest.raises(ValueError, match=r"\[E2643\]"):
            run_ray(inp, out, overwrite=True)
    # d0..d2 all done: no Ray started, and the output is unlocked again after
    out.write_text(out.read_text(encoding="utf8") + '{"id": "d2", "entities": []}\n', encoding="utf8")
    assert (run_ray(inp, out).done_before, run_ray(inp, out).annotated) == (3, 0)
    with AnnotateOutput.open(out) as held:
        assert held.done == {"d0", "d1", "d2"}
