"""One run at a time on one output folder (compare, re-cv, pretrain): folder_lock."""

import subprocess
import sys
from pathlib import Path

import pytest

from spacy_biobert.apps.compare import CompareSettings, run_experiment
from spacy_biobert.apps.file_lock import LOCK_NAME, folder_lock
from spacy_biobert.apps.pretrain import PretrainSettings, run_pretraining
from spacy_biobert.apps.re_eval import CVSettings, run_cv

ROOT = Path(__file__).parent.parent

HOLDER = (
    "import sys, time\n"
    "from spacy_biobert.apps.file_lock import folder_lock\n"
    "with folder_lock(sys.argv[1], 'compare'):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(600)\n"
)


def _inputs(tmp_path: Path) -> Path:
    """Minimal inputs for compare (tmp_path/data/toy), re-cv (tmp_path/folds/1)
    and pretrain (tmp_path/corpus.txt); RETURNS the empty output folder."""
    data = tmp_path / "data" / "toy"
    data.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (data / f"{split}.tsv").write_text("Aspirin\tB-Chemical\n\n", encoding="utf8")
    fold = tmp_path / "folds" / "1"
    fold.mkdir(parents=True)
    for split in ("train", "test"):
        (fold / f"{split}.tsv").write_text("@GENE$ causes @DISEASE$ .\t1\n", encoding="utf8")
    (tmp_path / "corpus.txt").write_text("Aspirin inhibits COX-1.\n", encoding="utf8")
    out = tmp_path / "out"
    out.mkdir()
    return out


def test_folder_lock_refuses_a_second_process_and_frees_on_kill(tmp_path):
    """Another process holds the folder: refused at once (E2675, naming the
    folder and the lock file); once that process is killed, with no clean-up
    of its own, the folder can be taken: no stale lock is left."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            cwd=str(ROOT))
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=r"\[E2675\].*another `compare` run holds .*\.lock") as e:
            with folder_lock(tmp_path, "compare"):
                pass
        assert str(tmp_path) in str(e.value)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    with folder_lock(tmp_path, "compare"):
        assert (tmp_path / LOCK_NAME).exists()
    # released at the end of the block: taken again at once
    with folder_lock(tmp_path, "compare"):
        pass


def test_compare_and_re_cv_refuse_a_folder_in_use(tmp_path):
    """While the output folder is held, compare, re-cv and pretrain stop before they
    write or train anything there."""
    out = _inputs(tmp_path)
    settings = CompareSettings(config=str(ROOT / "configs" / "test" / "ner.cfg"), data_dir=str(tmp_path / "data"))
    with folder_lock(out, "compare"):
        with pytest.raises(ValueError, match=r"\[E2675\].*`compare`"):
            run_experiment(out, ["toy"], [("a", "no_model")], [0], settings, echo=lambda m: None)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    with folder_lock(out, "re-cv"):
        with pytest.raises(ValueError, match=r"\[E2675\].*`re-cv`"):
            run_cv(tmp_path / "folds", out, CVSettings(base_model="no_model"), echo=lambda *a: None)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    corpus = tmp_path / "corpus.txt"
    with folder_lock(out, "pretrain"):
        with pytest.raises(ValueError, match=r"\[E2675\].*`pretrain`"):
            run_pretraining(corpus, out, PretrainSettings(base_model="no_model"))
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]


def test_cli_folder_in_use_is_one_line(tmp_path):
    """`spacy-biobert re-cv` / `pretrain` / `compare` on a folder in use: exit
    1 with the E2675 line, no traceback."""
    from typer.testing import CliRunner

    from spacy_biobert.cli import app

    out = _inputs(tmp_path)
    commands = {
        "re-cv": ["re-cv", str(tmp_path / "folds"), str(out), "--base-model", "no_model"],
        "pretrain": ["pretrain", str(tmp_path / "corpus.txt"), str(out), "--base-model", "no_model"],
        "compare": ["compare", str(out), "--start", "a=no_model", "--dataset", "toy",
                    "--data-dir", str(tmp_path / "data")],
    }
    for command, args in commands.items():
        with folder_lock(out, command):
            result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (command, result.output)
        assert "[E2675]" in result.output and f"`{command}`" in result.output, (command, result.output)
        assert "Traceback" not in result.output, (command, result.output)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]

