"""The spaCy project end to end on the embedded model: the `ci` workflow
(assets from the mirror -> a few training steps -> seqeval on the test split ->
`spacy package`), then the packaged pipeline in a fresh virtual environment;
and the tiny `re-ci`, `qa-ci` and `experiment-ci` workflows (the relation, QA
and start-point workflows' commands at a budget of a few steps)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory, shared_data):
    """A copy of the project (project.yml + configs) with the ci workflow run."""
    from weasel.cli.run import project_run

    path = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "project.yml", path / "project.yml")
    shutil.copytree(ROOT / "configs", path / "configs")
    overrides = {"vars.data_mirror": str(shared_data), "vars.ner_dataset": "ncbi_disease"}
    project_run(path, "ci", overrides=overrides, capture=True)
    return path


def _check_prf(p, r, f, n_pred, n_gold, *, allow_none=False):
    """P, R and F1 are those of one whole number of true positives out of
    n_pred predictions and n_gold gold items; something was predicted (or,
    with allow_none, nothing was and all three are 0)."""
    if allow_none and n_pred == 0:
        assert (p, r, f) == (0.0, 0.0, 0.0)
        return
    assert n_pred > 0
    tp = p * n_pred
    assert tp == pytest.approx(round(tp), abs=1e-6) and 0 <= round(tp) <= min(n_pred, n_gold)
    assert r * n_gold == pytest.approx(tp, abs=1e-6)
    assert f == pytest.approx(2 * round(tp) / (n_pred + n_gold), abs=1e-9)


def test_project_ci_workflow(project_dir):
    for split in ("train", "dev", "test"):
        assert (project_dir / "assets" / "ner" / "ncbi_disease" / f"{split}.tsv").exists()
    assert (project_dir / "training" / "ci" / "model-last" / "config.cfg").exists()
    metrics = json.loads((project_dir / "metrics" / "ci_ner_ncbi_disease.json").read_text())
    assert metrics["split"] == "test" and metrics["n_sentences"] == 940
    assert metrics["n_gold_entities"] == 960
    _check_prf(metrics["precision"], metrics["recall"], metrics["f1"],
               metrics["n_pred_entities"], metrics["n_gold_entities"])
    assert (project_dir / "metrics" / "ci_ner_ncbi_disease.md").read_text().startswith("### NER")
    wheels = list((project_dir / "packages").glob("*/dist/*.whl"))
    assert wheels, "spacy package --build wheel made no wheel"
    # a package name per data set, and a meta that says what it is
    (meta_path,) = project_dir.glob("packages/en_biobert_ner_ci-*/meta.json")
    meta = json.loads(meta_path.read_text(encoding="utf8"))
    assert meta["name"] == "biobert_ner_ci" and meta["author"] and meta["url"]
    assert "NCBI-disease" in meta["description"] and "all-MiniLM-L6-v2" in meta["description"]
    base, data = meta["sources"]
    assert base["license"] == "Apache-2.0" and base["url"].endswith("sentence-transformers/all-MiniLM-L6-v2")
    assert data["url"].endswith("/data/NCBI-disease-IOB") and data["license"].startswith("CC BY 4.0")
    assert meta["license"].startswith("Apache-2.0 (base model); CC BY 4.0")


@pytest.mark.slow
def test_project_package_installs_in_fresh_venv(project_dir, tmp_path):
    """Build en_biobert_ner and spacy-biobert as wheels, install both into a new
    virtual environment, then spacy.load + nlp.pipe on raw text there."""
    model = project_dir / "training" / "ci" / "model-last"
    subprocess.run(
        [sys.executable, "-m", "spacy", "package", str(model), str(tmp_path),
         "--name", "biobert_ner", "--version", "0.0.1", "--build", "wheel", "--force"],
        check=True, capture_output=True,
    )
    (pipeline_wheel,) = tmp_path.glob("en_biobert_ner-0.0.1/dist/*.whl")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True,
    )
    (lib_wheel,) = dist.glob("spacy_biobert-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["torch==2.13.0"], check=True, capture_output=True)
    subprocess.run(pip + [str(lib_wheel), str(pipeline_wheel)], check=True, capture_output=True)
    code = (
        "import json, spacy\n"
        "nlp = spacy.load('en_biobert_ner')\n"
        "texts = ['Familial adenomatous polyposis is a hereditary cancer syndrome.', '', 'x ' * 700]\n"
        "docs = list(nlp.pipe(texts))\n"
        "print(json.dumps({'pipe': nlp.pipe_names, 'n': len(docs),\n"
        "  'tokens': [len(d) for d in docs],\n"
        "  'conf_ok': all(e._.confidence is not None for d in docs for e in d.ents)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["pipe"] == ["transformer", "ner"]
    assert result["n"] == 3 and result["tokens"][1] == 0 and result["tokens"][2] == 700
    assert result["conf_ok"]


def _run_workflow(tmp_path_factory, shared_data, workflow, **variables):
    from weasel.cli.run import project_run

    path = tmp_path_factory.mktemp(workflow)
    shutil.copy(ROOT / "project.yml", path / "project.yml")
    shutil.copytree(ROOT / "configs", path / "configs")
    overrides = {"vars.data_mirror": str(shared_data), **{f"vars.{k}": v for k, v in variables.items()}}
    project_run(path, workflow, overrides=overrides, capture=True)
    return path


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf8"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_project_re_ci_workflow(tmp_path_factory, shared_data):
    """re-ci: EU-ADR cross-validation on folds 1-2 (re-cv) and ChemProt train +
    evaluate-re, a few steps each, on the embedded model."""
    path = _run_workflow(tmp_path_factory, shared_data, "re-ci")
    out = path / "metrics" / "ci" / "re" / "euadr"
    cv = _read(out / "cv_results.json")
    assert cv["fold_ids"] == [1, 2] and len(cv["folds"]) == 2
    assert cv["settings"]["steps"] == 4 and cv["settings"]["batch_size"] == 8
    baseline = []
    for k in (1, 2):
        fold = _read(out / f"fold{k}" / "metrics.json")
        scored = _read(out / f"fold{k}" / "evaluate.json")
        # every sentence of the fold's test.tsv (after its header line); label 1 = a relation
        lines = (path / "assets" / "re" / "euadr" / str(k) / "test.tsv").read_text(encoding="utf8").splitlines()
        labels = [line.rsplit("\t", 1)[1] for line in lines[1:]]
        n_positive = labels.count("1")
        assert fold["n_docs"] == scored["n_docs"] == len(labels) == 37
        assert fold["n_gold_relations"] == scored["n_gold_relations"] == n_positive
        _check_prf(fold["p"], fold["r"], fold["f"], scored["n_pred_relations"], n_positive, allow_none=True)
        assert cv["folds"][k - 1] == {"p": fold["p"], "r": fold["r"], "f": fold["f"]}
        baseline.append(n_positive / 37)
    assert cv["f"] == pytest.approx(sum(f["f"] for f in cv["folds"]) / 2)
    assert cv["all_positive_baseline"]["p"] == pytest.approx(sum(baseline) / 2)
    assert "| euadr |" in (out / "cv_results.md").read_text(encoding="utf8")

    model = path / "training" / "ci_chemprot_re" / "model-last"
    assert (model / "relation_extractor" / "model").exists()
    assert _read(model / "meta.json")["pipeline"] == ["relation_extractor"]
    chemprot = _read(path / "metrics" / "ci" / "re" / "chemprot_gold_entities.json")
    # the first 10 test abstracts and their gold relations, counted from the raw files
    folder = path / "assets" / "re" / "chemprot" / "chemprot_test_gs"
    pmids = [line.split("\t")[0] for line in
             (folder / "chemprot_test_abstracts_gs.tsv").read_text(encoding="utf8").splitlines()[:10]]
    gold = [line.split("\t") for line in
            (folder / "chemprot_test_gold_standard.tsv").read_text(encoding="utf8").splitlines()]
    n_gold = sum(1 for g in gold if g[0] in set(pmids))
    assert chemprot["n_docs"] == 10 and chemprot["n_gold_relations"] == n_gold > 0
    _check_prf(chemprot["p"], chemprot["r"], chemprot["f"], chemprot["n_pred_relations"], n_gold, allow_none=True)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_project_qa_ci_workflow(tmp_path_factory, shared_data):
    """qa-ci: SQuAD stage, BioASQ stage (from the SQuAD model) and the BioASQ
    6b factoid evaluation of batch 1, a few steps each, on the embedded model."""
    path = _run_workflow(tmp_path_factory, shared_data, "qa-ci")
    stats = _read(path / "metrics" / "qa_train_stats_6b.json")
    assert len(stats) == 1 and stats[0]["n_kept_questions"] == 3571
    assert stats[0]["n_relocated_case"] == 40 and stats[0]["n_dropped_questions"] == 5
    squad = path / "training" / "ci_qa_squad" / "model-last"
    model = path / "training" / "ci_qa_6b" / "model-last"
    for folder in (squad, model):
        assert (folder / "qa" / "model").exists() and _read(folder / "meta.json")["pipeline"] == ["qa"]
    assert "ci_qa_squad/model-last" in (model / "config.cfg").read_text(encoding="utf8")  # stage 2 started from stage 1
    # the trained pipeline's schedule is numbers only (fit_training_to_data froze
    # ${training.max_steps}), so spaCy's own create_optimizer() resolves it
    import spacy

    nlp = spacy.load(model)
    learn_rate = nlp.config["training"]["optimizer"]["learn_rate"]
    assert learn_rate["total_steps"] == nlp.config["training"]["max_steps"] > 0
    from thinc.api import Optimizer

    assert isinstance(nlp.create_optimizer(), Optimizer)  # was a ConfigValidationError
    metrics = _read(path / "metrics" / "ci" / "qa_bioasq_6b.json")
    test_dir = path / "assets" / "qa" / "bioasq" / "test"
    assert [b["batch"] for b in metrics["per_batch"]] == [1]  # --batches 1
    for b in metrics["per_batch"]:
        test = _read(test_dir / f"BioASQ-test-factoid-6b-{b['batch']}.json")
        golden = _read(test_dir / f"6B{b['batch']}_golden.json")
        n_snippets = sum(len(p["qas"]) for doc in test["data"] for p in doc["paragraphs"])
        n_factoid = sum(1 for q in golden["questions"] if q.get("type") == "factoid")
        assert b["n_snippets"] == n_snippets and b["n_questions"] == n_factoid
        # no null answers: every question with a snippet is answered
        assert 0 < b["n_answered"] <= n_factoid
        for key in ("strict", "lenient"):
            right = b[key] * n_factoid
            assert right == pytest.approx(round(right), abs=1e-6)
        # reciprocal ranks: 1 when the top answer is right, > 0 only when one of the top 5 is
        assert b["strict"] <= b["mrr"] <= b["lenient"]
    year = metrics["per_year"]["6b"]
    assert year["n_batches"] == 1 and year["n_questions"] == metrics["per_batch"][0]["n_questions"] == 31
    assert year["strict"] == pytest.approx(metrics["per_batch"][0]["strict"])
    assert len(metrics["predictions"]) == sum(b["n_answered"] for b in metrics["per_batch"])
    assert all(1 <= len(p) <= 5 for p in metrics["predictions"].values())


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_project_experiment_ci_workflow(tmp_path_factory, shared_data):
    """experiment-ci: 2 steps of continued MLM pre-training, then NER from the
    general start and from the pre-trained one (compare), 24 steps each, scored
    on the first 100 test sentences."""
    path = _run_workflow(tmp_path_factory, shared_data, "experiment-ci")
    pre = path / "training" / "ci_pretrain"
    results = _read(pre / "pretrain_results.json")
    assert results["global_step"] == 2 and results["settings"]["max_length"] == 64
    assert (pre / "checkpoint-1").is_dir() and (pre / "checkpoint-2").is_dir()
    assert _read(pre / "model" / "config.json")["model_type"] == "bert"
    assert results["eval_sequences"] > 0 and results["eval_perplexity"] == pytest.approx(
        2.718281828 ** results["eval_loss"], rel=1e-6)

    compare = _read(path / "metrics" / "ci" / "compare" / "compare_results.json")
    assert compare["starts"] == {"bert": "embedded", "biobert": "training/ci_pretrain/model"}
    assert compare["datasets"] == ["ncbi_disease"] and compare["seeds"] == [0]
    assert compare["settings"]["steps"] == 24 and compare["settings"]["eval_limit"] == 100
    runs = {r["start"]: r for r in compare["runs"]}
    assert sorted(runs) == ["bert", "biobert"]
    for label, run in runs.items():
        assert run["n_sentences"] == 100 and run["base_model"] == compare["starts"][label]
        scored = _read(path / "metrics" / "ci" / "compare" / "runs" / "ncbi_disease" / label / "seed0" / "evaluate.json")
        assert scored["n_sentences"] == 100
        _check_prf(run["precision"], run["recall"], run["f1"], scored["n_pred_entities"], scored["n_gold_entities"])
        cell = compare["table"]["ncbi_disease"][label]
        assert cell["n_seeds"] == 1 and cell["f1"]["values"] == [round(100 * run["f1"], 2)]
    md = (path / "metrics" / "ci" / "compare" / "compare_results.md").read_text(encoding="utf8")
    assert "| ncbi_disease |" in md and "biobert F1" in md


# a tiny own data set: sentences in the tiny BERT's vocabulary, two entity types
_OWN_SENTENCES = [
    [("familial", "B-Disease"), ("adenomatous", "I-Disease"), ("polyposis", "I-Disease"), ("is", "O"),
     ("a", "O"), ("hereditary", "O"), ("cancer", "B-Disease"), ("syndrome", "I-Disease"), (".", "O")],
    [("women", "O"), ("with", "O"), ("breast", "B-Disease"), ("cancer", "I-Disease"), ("were", "O"),
     ("observed", "O"), (".", "O")],
    [("the", "O"), ("apc", "B-Gene"), ("gene", "O"), ("is", "O"), ("not", "O"), ("associated", "O"),
     ("with", "O"), ("this", "O"), ("risk", "O"), (".", "O")],
    [("patients", "O"), ("with", "O"), ("colorectal", "B-Disease"), ("cancer", "I-Disease"), ("and", "O"),
     ("ovarian", "B-Disease"), ("cancer", "I-Disease")],
]


def _write_own_iob(path: Path, n: int) -> Path:
    blocks = ["\n".join(f"{w}\t{t}" for w, t in _OWN_SENTENCES[i % len(_OWN_SENTENCES)]) for i in range(n)]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf8")
    return path


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_project_own_data_workflow(tiny_bert, tmp_path):
    """own-data on a user's IOB files (not one of the project's data sets):
    check -> train (tiny BERT, a few steps) -> evaluate on the test file ->
    package named after own_name, its meta crediting the data and base model."""
    from weasel.cli.run import project_run

    shutil.copy(ROOT / "project.yml", tmp_path / "project.yml")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    data = tmp_path / "mydata"
    data.mkdir()
    train = _write_own_iob(data / "train.tsv", 32)
    dev = _write_own_iob(data / "dev.tsv", 8)
    test = _write_own_iob(data / "test.tsv", 8)
    overrides = {
        "vars.own_train": str(train), "vars.own_dev": str(dev), "vars.own_test": str(test),
        "vars.own_name": "mygenes_ner", "vars.own_license": "CC-BY-4.0",
        "vars.own_url": "https://example.org/mygenes", "vars.base_model": str(tiny_bert),
        "vars.max_steps": 4, "vars.eval_frequency": 2,
    }
    project_run(tmp_path, "own-data", overrides=overrides, capture=True)
    model = tmp_path / "training" / "own_mygenes_ner" / "model-best"
    assert sorted(_read(model / "meta.json")["labels"]["ner"]) == ["Disease", "Gene"]  # typed
    metrics = _read(tmp_path / "metrics" / "own_mygenes_ner.json")
    assert metrics["dataset"] == "mygenes_ner" and metrics["n_sentences"] == 8
    assert metrics["n_gold_entities"] == 2 * (2 + 1 + 1 + 2)  # 8 test sentences: the 4 above twice
    assert (tmp_path / "metrics" / "own_mygenes_ner.md").exists()
    (meta_path,) = tmp_path.glob("packages/en_mygenes_ner-0.1.0/meta.json")
    meta = _read(meta_path)
    assert meta["name"] == "mygenes_ner" and meta["version"] == "0.1.0"
    assert "mygenes_ner" in meta["description"] and meta["author"] == "spacy-biobert"
    assert "CC-BY-4.0" in meta["license"] and meta["url"]
    assert meta["sources"][1] == {"name": "mygenes_ner", "url": "https://example.org/mygenes", "license": "CC-BY-4.0"}
    assert meta["sources"][0]["name"].startswith("local model folder")
    assert list(tmp_path.glob("packages/en_mygenes_ner-0.1.0/dist/*.whl"))


def test_project_own_data_check_fails_in_one_line(tmp_path):
    """own-check with no files set: exit 1 and one line naming the variables."""
    shutil.copy(ROOT / "project.yml", tmp_path / "project.yml")
    out = subprocess.run(
        [sys.executable, "-m", "weasel", "run", "own-check", str(tmp_path),
         "--vars.own_dev", str(tmp_path / "nope.tsv")],
        capture_output=True, text=True, cwd=tmp_path,
    )
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode != 0 and "Traceback" not in text
    assert "[E2708]" in text and "not set: own_train, own_test" in text and "nope.tsv (not found)" in text
    assert "--vars.own_train TRAIN" in text


def _no_duplicate_keys_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"line {node.start_mark.line + 1}: duplicate keys {dupes}")
        return loader.construct_mapping(node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def test_project_yml_has_no_duplicate_keys():
    """YAML keeps the last of two equal keys silently (two branches once both
    added `max_steps`): project.yml must say each var and command key once."""
    import yaml

    root = Path(__file__).resolve().parent.parent
    yaml.load((root / "project.yml").read_text(encoding="utf8"), Loader=_no_duplicate_keys_loader())
    with pytest.raises(ValueError, match="duplicate keys"):
        yaml.load("vars:\n  a: 1\n  a: 2\n", Loader=_no_duplicate_keys_loader())
