"""spaCy's own tools on the configs and on pipelines trained from them
(nlp.create_optimizer, nlp.resume_training, spacy debug data, spacy evaluate,
a .spacy training file), and a small run whose model-best has learned."""

import io
import json
import random
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config, registry
from thinc.api import Config

# registrations without a reinstall (test_registry checks the entry points)
import spacy_biobert.training.callbacks  # noqa: F401
import spacy_biobert.training.schedules  # noqa: F401
from spacy_biobert.ner.readers import read_iob_docs
from spacy_biobert.training.callbacks import fit_training_to_data

ROOT = Path(__file__).parent.parent
CONFIGS = sorted((ROOT / "configs").rglob("*.cfg"))
# `python -m spacy` with this package's registrations imported first
SPACY = [sys.executable, "-c", "import spacy_biobert.training.callbacks; "
         "from spacy.cli import setup_cli; setup_cli()"]
DISEASES = [["breast", "cancer"], ["colon", "cancer"], ["ovarian", "cancer"],
            ["familial", "adenomatous", "polyposis"], ["hereditary", "cancer", "syndrome"]]
FILLER = "the of and in to a with is was for by that on as are from at were patients".split()


def write_iob(path: Path, n: int, seed: int) -> Path:
    """`n` sentences of filler words around one disease mention each."""
    rng, lines = random.Random(seed), []
    for _ in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 8))]
        mention, at = rng.choice(DISEASES), rng.randint(0, len(words))
        tags = ["O"] * len(words)
        words[at:at] = mention
        tags[at:at] = ["B-Disease"] + ["I-Disease"] * (len(mention) - 1)
        lines += [f"{w}\t{t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def run_training(config: Config, output: Path):
    """`spacy train`'s own steps (init_nlp, train), in process; the console log."""
    nlp = init_nlp(config)
    initial = {name: pipe.model.to_bytes() for name, pipe in nlp.pipeline}
    output.mkdir(parents=True, exist_ok=True)
    log = io.StringIO()
    train(nlp, output, stdout=log, stderr=io.StringIO())
    return nlp, initial, log.getvalue()


def evaluated_steps(log: str):
    rows = [line.split() for line in log.splitlines()]
    return [int(r[1]) for r in rows if len(r) > 2 and r[0].isdigit() and r[1].isdigit()]


@pytest.fixture(scope="module")
def small_run(tiny_bert, tmp_path_factory):
    """configs/ner.cfg with its defaults (4 epochs of batches of 16, eval every
    300 steps) on 200 training sentences: a 52-step run."""
    folder = tmp_path_factory.mktemp("small_run")
    train_path, dev_path = write_iob(folder / "train.tsv", 200, 0), write_iob(folder / "dev.tsv", 30, 1)
    overrides = {"paths.train": str(train_path), "paths.dev": str(dev_path),
                 "paths.base_model": str(tiny_bert), "training.logger.progress_bar": False}
    config = load_config(ROOT / "configs" / "ner.cfg", overrides=overrides, interpolate=False)
    nlp, initial, log = run_training(config, folder / "out")
    return {"folder": folder, "dev": dev_path, "initial": initial, "log": log, "out": folder / "out"}


def test_small_run_model_best_has_learned(small_run):
    # several evaluations whatever the size: 300 -> 51 // 3 = 17 steps
    assert evaluated_steps(small_run["log"]) == [0, 17, 34, 51]
    best = small_run["out"] / "model-best"
    cfg = load_config(best / "config.cfg", interpolate=False)
    assert cfg["training"]["eval_frequency"] == 17
    assert cfg["training"]["optimizer"]["learn_rate"]["total_steps"] == 52
    # the step-0 evaluation (initial weights) never stays model-best
    meta = json.loads((best / "meta.json").read_text(encoding="utf8"))
    assert meta["performance"]["untrained"] == 0.0
    nlp = spacy.load(best)
    for name, pipe in nlp.pipeline:
        assert pipe.model.to_bytes() != small_run["initial"][name], name


def test_trained_pipeline_create_optimizer_and_resume_training(small_run):
    nlp = spacy.load(small_run["out"] / "model-last")
    optimizer = nlp.create_optimizer()
    assert optimizer.learn_rate == 0.0  # the schedule's step 0: warm-up from 0
    optimizer = nlp.resume_training()
    docs = list(read_iob_docs(small_run["dev"], nlp.vocab, limit=4))
    from spacy.training import Example

    losses = nlp.update([Example(nlp.make_doc(d.text), d) for d in docs], sgd=optimizer)
    assert losses["ner"] >= 0.0


def test_spacy_evaluate_on_trained_pipeline(small_run, tmp_path):
    nlp = spacy.blank("en")
    dev = tmp_path / "dev.spacy"
    DocBin(docs=list(read_iob_docs(small_run["dev"], nlp.vocab))).to_disk(dev)
    out = tmp_path / "metrics.json"
    proc = subprocess.run(SPACY + ["evaluate", str(small_run["out"] / "model-best"), str(dev),
                                   "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 0.0 <= json.loads(out.read_text(encoding="utf8"))["ents_f"] <= 1.0


def test_spacy_debug_data_on_ner_config(tiny_bert, tmp_path):
    train_path, dev_path = write_iob(tmp_path / "train.tsv", 120, 0), write_iob(tmp_path / "dev.tsv", 8, 1)
    proc = subprocess.run(SPACY + [
        "debug", "data", str(ROOT / "configs" / "ner.cfg"), "--paths.train", str(train_path),
        "--paths.dev", str(dev_path), "--paths.base_model", str(tiny_bert),
    ], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Training stats" in proc.stdout


def test_train_from_spacy_file(tiny_bert, tmp_path):
    """A .spacy training file through spacy.Corpus.v1: the schedule counts
    whatever [corpora.train] reads (v1 re-read paths.train as IOB)."""
    nlp = spacy.blank("en")
    paths = {}
    for name, n, seed in (("train", 40, 0), ("dev", 8, 1)):
        docs = read_iob_docs(write_iob(tmp_path / f"{name}.tsv", n, seed), nlp.vocab)
        paths[name] = tmp_path / f"{name}.spacy"
        DocBin(docs=list(docs)).to_disk(paths[name])
    config = load_config(ROOT / "configs" / "test" / "ner.cfg", interpolate=False, overrides={
        "paths.train": str(paths["train"]), "paths.dev": str(paths["dev"]),
        "paths.base_model": str(tiny_bert), "training.max_epochs": 2})
    for split in ("train", "dev"):
        config["corpora"][split] = {"@readers": "spacy.Corpus.v1", "path": f"${{paths.{split}}}"}
    trained, _, log = run_training(config, tmp_path / "out")
    # 40 sentences, batches of 16: 3 batches an epoch, 2 epochs
    assert trained.config["training"]["optimizer"]["learn_rate"]["total_steps"] == 6
    assert (tmp_path / "out" / "model-best" / "meta.json").exists()


# the training configs (an assembly config such as chemprot_pipeline.cfg has no [training.optimizer])
TRAINING_CONFIGS = [p for p in CONFIGS if "optimizer" in Config().from_disk(p, interpolate=False).get("training", {})]


def test_training_configs_found():
    names = {p.name for p in TRAINING_CONFIGS}
    assert {"ner.cfg", "re_binary.cfg", "re_chemprot.cfg", "chemprot_ner.cfg", "qa.cfg"} <= names


@pytest.mark.parametrize("path", TRAINING_CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_optimizer_resolves_alone(path):
    """What nlp.create_optimizer() does: [training.optimizer] resolved on its
    own, with no other section to interpolate."""
    raw = Config().from_disk(path, interpolate=False)
    if "qa.cfg" == path.name:
        # the file refers to ${training.max_steps}; a pipeline trained from it
        # has the number (test_project_qa_ci_workflow calls create_optimizer)
        pytest.xfail("qa.cfg: thinc's warmup_linear.v1 with total_steps = ${training.max_steps}")
    optimizer = registry.resolve({"optimizer": raw["training"]["optimizer"]})["optimizer"]
    assert optimizer.learn_rate > 0.0  # total_steps = 0 (not fitted): a constant rate


def test_v2_follows_v1_on_ncbi_disease(shared_data):
    """The paper's configs: v2 fitted to NCBI-disease train gives v1's rates at every step."""
    train_path = shared_data / "ner" / "ncbi_disease" / "train.tsv"
    config = load_config(ROOT / "configs" / "ner.cfg", interpolate=False,
                         overrides={"paths.train": str(train_path), "paths.dev": str(train_path)})
    nlp = spacy.blank("en")
    nlp.config = config
    done = fit_training_to_data(nlp)
    assert done == {"total_steps": 4 * 339, "eval_frequency": 300}  # today's evaluations
    training = nlp.config.interpolate()["training"]
    lr = training["optimizer"]["learn_rate"]
    v1 = registry.schedules.get("spacy-biobert.warmup_linear_epochs.v1")(
        lr["initial_rate"], train_path, training["max_epochs"], training["batcher"]["size"],
        warmup_ratio=lr["warmup_ratio"], group_documents=config["corpora"]["train"]["group_documents"],
        limit=config["corpora"]["train"]["limit"], max_steps=training["max_steps"])
    v2 = registry.resolve({"lr": lr})["lr"]
    n = done["total_steps"] + 5
    assert list(islice(v2, n)) == list(islice(v1, n))


def test_step0_score_never_beats_a_later_one():
    """The configs' score weights with spacy-biobert.no_untrained_best.v1: a
    step-0 evaluation that scores higher (a random model finding a few
    entities) still loses to a later one that scores 0."""
    from spacy.training.loop import create_evaluation_callback

    class Pipeline:
        ents_f = {0: 0.9, 17: 0.0}
        step = 0

        def evaluate(self, examples):
            return {"ents_f": self.ents_f[self.step], "ents_p": 0.0, "ents_r": 0.0}

    raw = Config().from_disk(ROOT / "configs" / "ner.cfg", interpolate=False)
    before_update = registry.resolve({"cb": raw["training"]["before_update"]})["cb"]
    nlp = Pipeline()
    evaluate = create_evaluation_callback(nlp, lambda nlp: [], dict(raw["training"]["score_weights"]))
    results = []
    for step in (0, 17):
        nlp.step = step
        before_update(nlp, {"step": step, "epoch": 0})
        results.append(evaluate()[0])
    assert results[0] < results[1]
