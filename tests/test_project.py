"""The spaCy project end to end on the embedded model: the `ci` workflow
(assets from the mirror -> a few training steps -> seqeval on the test split ->
`spacy package`), then the packaged pipeline in a fresh virtual environment."""

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


def test_project_ci_workflow(project_dir):
    for split in ("train", "dev", "test"):
        assert (project_dir / "assets" / "ner" / "ncbi_disease" / f"{split}.tsv").exists()
    assert (project_dir / "training" / "ci" / "model-last" / "config.cfg").exists()
    metrics = json.loads((project_dir / "metrics" / "ci_ner_ncbi_disease.json").read_text())
    assert metrics["split"] == "test" and metrics["n_sentences"] == 940
    assert metrics["n_gold_entities"] == 960
    assert 0.0 <= metrics["f1"] <= 1.0
    assert (project_dir / "metrics" / "ci_ner_ncbi_disease.md").read_text().startswith("### NER")
    wheels = list((project_dir / "packages").glob("*/dist/*.whl"))
    assert wheels, "spacy package --build wheel made no wheel"


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
