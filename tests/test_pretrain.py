"""Continued MLM pre-training on a tiny BERT: corpus handling, a fresh MLM
head, and a run killed with SIGKILL that resumes with nothing lost or repeated."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spacy_biobert.apps.pretrain import pack_documents, read_documents


def test_pretrain_read_documents(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Title one\nbody one\n\n\n  \nTitle two\r\n\nthree\n", encoding="utf8")
    assert list(read_documents(path)) == ["Title one\nbody one", "Title two", "three"]
    with pytest.raises(FileNotFoundError, match=r"\(spacy-biobert\) \[E2001\]"):
        list(read_documents(tmp_path / "missing.txt"))


def test_pretrain_pack_documents_never_mixes_documents():
    batch = {"input_ids": [[1, 2, 3, 4, 5], [6], []]}
    out = pack_documents(batch, max_length=5, cls_id=101, sep_id=102)
    assert out["input_ids"] == [[101, 1, 2, 3, 102], [101, 4, 5, 102], [101, 6, 102]]
    with pytest.raises(ValueError, match=r"\(spacy-biobert\) \[E2601\]"):
        pack_documents(batch, max_length=2, cls_id=101, sep_id=102)


def _corpus(path: Path) -> Path:
    from util import TINY_WORDS

    words = list(TINY_WORDS)
    docs = []
    for i in range(60):
        sent = " ".join(words[(i * 7 + j * 3) % len(words)] for j in range(12 + i % 9))
        docs.append(f"{sent} .\n{sent[::-1][:40]} .")
    path.write_text("\n\n".join(docs) + "\n", encoding="utf8")
    return path


DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    from transformers import TrainerCallback
    from spacy_biobert.apps.pretrain import PretrainSettings, run_pretraining

    corpus, out, base, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    settings = PretrainSettings(base_model=base, max_length=16, batch_size=4, max_steps=6,
                                save_steps=2, eval_steps=3, logging_steps=1, eval_ratio=0.1,
                                learning_rate=1e-3, warmup_ratio=0.0, seed=0,
                                head_warmup_steps=3)
    run_pretraining(corpus, out, settings, callbacks=[KillAfterSave()] if kill_at else [])
    """
)


def _run(driver: Path, corpus: Path, out: Path, base: Path, kill_at: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(driver), str(corpus), str(out), str(base), str(kill_at)],
        capture_output=True, text=True, env=_env(),  # this checkout's code, not an installed one
    )


def _state(out: Path):
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(out / "model" / "model.safetensors"))
    results = json.loads((out / "pretrain_results.json").read_text())
    history = json.loads(sorted(out.glob("checkpoint-*/trainer_state.json"))[-1].read_text())["log_history"]
    losses = {h["step"]: h["loss"] for h in history if "loss" in h}
    return {k: v.to(torch.float64) for k, v in weights.items()}, results, losses


def test_pretrain_kill_and_resume_loses_and_repeats_nothing(tiny_bert, tmp_path):
    import torch

    corpus = _corpus(tmp_path / "corpus.txt")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf8")

    straight = _run(driver, corpus, tmp_path / "straight", tiny_bert, 0)
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert "no MLM head" in straight.stderr

    killed = _run(driver, corpus, tmp_path / "resumed", tiny_bert, 4)
    assert killed.returncode == -9  # really SIGKILLed, after checkpoint-4 was written
    assert (tmp_path / "resumed" / "checkpoint-4").exists()
    assert not (tmp_path / "resumed" / "model").exists()
    resumed = _run(driver, corpus, tmp_path / "resumed", tiny_bert, 0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    w1, r1, l1 = _state(tmp_path / "straight")
    w2, r2, l2 = _state(tmp_path / "resumed")
    assert r1["global_step"] == r2["global_step"] == 6
    assert r2["resumed_from"] == "checkpoint-4" and r1["resumed_from"] is None
    assert r1["fresh_mlm_head"] and r2["fresh_mlm_head"]
    assert sorted(l1) == sorted(l2) == [1, 2, 3, 4, 5, 6]  # no step lost or repeated
    assert l1 == pytest.approx(l2, rel=1e-5)  # same data order and masking after resume
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.allclose(w1[k], w2[k], atol=1e-5), k
    assert r1["eval_perplexity"] == pytest.approx(r2["eval_perplexity"], rel=1e-5)


def test_pretrain_output_is_a_base_model_for_ner(tiny_bert, tmp_path):
    """The pre-trained folder goes into the NER config through the same variable."""
    from util import make_examples, make_ner_nlp

    from spacy_biobert.apps.pretrain import PretrainSettings, run_pretraining

    corpus = _corpus(tmp_path / "corpus.txt")
    settings = PretrainSettings(base_model=str(tiny_bert), max_length=16, batch_size=4,
                                max_steps=2, save_steps=2, eval_ratio=0.0, whole_word_masking=True)
    results = run_pretraining(corpus, tmp_path / "out", settings)
    assert results["global_step"] == 2 and "eval_loss" not in results
    nlp = make_ner_nlp(tmp_path / "out" / "model")
    nlp.initialize(lambda: make_examples(nlp))
    # the NER's encoder holds the pre-trained weights, not those it started from
    import torch
    from safetensors.torch import load_file
    from transformers import BertModel

    encoder = nlp.get_pipe("transformer").model.layers[0].shims[0]._model.state_dict()
    pretrained = load_file(str(tmp_path / "out" / "model" / "model.safetensors"))
    start = BertModel.from_pretrained(str(tiny_bert)).state_dict()
    compared = [k for k in encoder if f"bert.{k}" in pretrained]
    assert "encoder.layer.1.output.dense.weight" in compared and len(compared) > 30
    for k in compared:
        assert torch.equal(encoder[k].cpu(), pretrained[f"bert.{k}"]), k
    assert not all(torch.equal(encoder[k].cpu(), start[k]) for k in compared)
    doc = nlp("patients with breast cancer")
    assert doc._.trf_data.align.lengths.min() >= 1  # every token got wordpieces


def test_pretrain_sparse_head_same_loss_and_gradients_as_dense(tiny_bert):
    import torch
    from transformers import BertForMaskedLM

    from spacy_biobert.apps.pretrain import use_sparse_mlm_head

    kw = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    dense = BertForMaskedLM.from_pretrained(str(tiny_bert), **kw)
    sparse = BertForMaskedLM.from_pretrained(str(tiny_bert), **kw)
    sparse.load_state_dict(dense.state_dict())
    assert use_sparse_mlm_head(sparse)
    torch.manual_seed(1)
    ids = torch.randint(5, dense.config.vocab_size, (3, 10))
    mask = torch.ones_like(ids)
    mask[2, 6:] = 0
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 5], labels[2, 1] = ids[0, 2], ids[1, 5], ids[2, 1]
    dense.train()
    sparse.train()
    l1 = dense(input_ids=ids, attention_mask=mask, labels=labels).loss
    l2 = sparse(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert l1.detach().item() == pytest.approx(l2.detach().item(), rel=1e-5)
    l1.backward()
    l2.backward()
    g1 = dict(dense.named_parameters())
    for name, p in sparse.named_parameters():
        assert torch.allclose(p.grad, g1[name].grad, atol=1e-6), name
    assert sparse.tokens_seen == 26  # padding not counted
    # nothing masked: zero loss, no NaN; eval mode: the plain model
    none = torch.full_like(ids, -100)
    assert sparse(input_ids=ids, labels=none).loss.detach().item() == 0.0
    # ... and it still reaches the head (a process with no masked token under
    # DDP, or during head warm-up with the encoder frozen, can backpropagate)
    sparse.zero_grad()
    for p in sparse.bert.parameters():
        p.requires_grad_(False)
    sparse(input_ids=ids, labels=none).loss.backward()
    assert not sparse.cls.predictions.transform.dense.weight.grad.any()  # a zero gradient
    sparse.eval()
    assert sparse(input_ids=ids, labels=labels).logits.shape == (3, 10, dense.config.vocab_size)


def test_pretrain_head_warmup_leaves_the_encoder_alone(tiny_bert, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import BertModel

    from spacy_biobert.apps.pretrain import PretrainSettings, run_pretraining

    corpus = _corpus(tmp_path / "corpus.txt")
    settings = PretrainSettings(base_model=str(tiny_bert), max_length=16, batch_size=4, max_steps=2,
                                save_steps=2, eval_ratio=0.0, head_warmup_steps=2, learning_rate=1e-2,
                                logging_steps=1)
    results = run_pretraining(corpus, tmp_path / "out", settings)
    assert results["global_step"] == 2 and results["sparse_mlm_head"]
    before = BertModel.from_pretrained(str(tiny_bert)).state_dict()
    after = load_file(str(tmp_path / "out" / "model" / "model.safetensors"))
    config = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForMaskedLM"]
    for name, value in before.items():
        if f"bert.{name}" in after:
            assert torch.equal(after[f"bert.{name}"], value), name
    # the fresh head itself did train: compare with the head the run started from
    from transformers import set_seed

    from spacy_biobert.apps.pretrain import load_mlm_model

    set_seed(0)
    start, fresh = load_mlm_model(str(tiny_bert))
    assert fresh
    w0 = start.state_dict()["cls.predictions.transform.dense.weight"]
    assert not torch.allclose(after["cls.predictions.transform.dense.weight"], w0)
    history = json.loads((tmp_path / "out" / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert any("tokens_per_s" in h for h in history)
    # checkpoints are complete model folders (tokenizer included), e.g. for an F1-vs-steps curve
    assert (tmp_path / "out" / "checkpoint-2" / "vocab.txt").exists()


def test_pretrain_speed_benchmark_runs(tiny_bert, tmp_path):
    """The benchmark script runs end to end (figures only; no speed asserted)."""
    corpus = _corpus(tmp_path / "corpus.txt")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_biobert.benchmarks.pretrain_speed", str(corpus),
         "--base-model", str(tiny_bert), "--steps", "2", "--warmup", "1", "--batch-size", "4",
         "--max-length", "16", "--output", str(out)],
        capture_output=True, text=True, env=_env(),  # this checkout's code, not an installed one
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    for key in ("spacy_biobert_pretrain", "plain_hf_trainer"):
        assert res[key]["steps"] == 2 and res[key]["tokens"] > 0 and res[key]["tokens_per_s"] > 0
    # the same data and batches: the same tokens in the timed steps
    assert res["spacy_biobert_pretrain"]["tokens"] == res["plain_hf_trainer"]["tokens"]
    assert "ratio (tokens/s)" in proc.stdout


ROOT = Path(__file__).parent.parent

# one settings dict for the CLI runs and the killed run (driver below)
DDP_SETTINGS = {"max_length": 16, "max_steps": 6, "save_steps": 2, "eval_steps": 3, "logging_steps": 1,
                "eval_ratio": 0.1, "learning_rate": 1e-3, "warmup_ratio": 0.0, "seed": 0,
                "head_warmup_steps": 2, "save_total_limit": 0}
CLI_FLAGS = {"max_length": "--max-length", "max_steps": "--max-steps", "save_steps": "--save-steps",
             "eval_steps": "--eval-steps", "logging_steps": "--logging-steps", "eval_ratio": "--eval-ratio",
             "learning_rate": "--learning-rate", "warmup_ratio": "--warmup-ratio", "seed": "--seed",
             "head_warmup_steps": "--head-warmup-steps", "save_total_limit": "--save-total-limit",
             "batch_size": "--batch-size", "base_model": "--base-model",
             "gradient_accumulation_steps": "--grad-accum"}

DDP_DRIVER = textwrap.dedent(
    """
    import json, os, signal, sys
    from transformers import TrainerCallback
    from spacy_biobert.apps.pretrain import PretrainSettings, run_pretraining

    corpus, out, settings, kill_at = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])

    class KillMidStep(TrainerCallback):  # the step after a checkpoint is lost: resume redoes it
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == kill_at and os.environ["RANK"] == "0":
                os.kill(os.getpid(), signal.SIGKILL)

    run_pretraining(corpus, out, PretrainSettings(**settings), callbacks=[KillMidStep()])
    """
)


def _env():
    return {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def _pretrain(corpus: Path, out: Path, settings: dict, processes: int, driver=None, kill_at=0):
    """`spacy-biobert pretrain` in one process, or under torchrun (--standalone:
    a free port) in `processes`, or the kill driver under torchrun."""
    if driver is not None:
        cmd = [str(driver), str(corpus), str(out), json.dumps(settings), str(kill_at)]
    else:
        flags = [x for k, v in settings.items() for x in (CLI_FLAGS[k], str(v))]
        cmd = ["-m", "spacy_biobert", "pretrain", str(corpus), str(out), *flags]
    if processes > 1:
        cmd = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *cmd]
    return subprocess.run([sys.executable, *cmd], capture_output=True, text=True, env=_env(), cwd=str(ROOT))


def _no_dropout_bert(tiny_bert: Path, path: Path) -> Path:
    """The tiny BERT without dropout: dropout draws over a batch's shape, which
    differs between batch 2B and two processes of batch B."""
    import shutil

    shutil.copytree(tiny_bert, path)
    config = json.loads((path / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (path / "config.json").write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def ddp_runs(tiny_bert, tmp_path_factory):
    """The same run in one process with batch 8 and under torchrun in two
    processes (gloo) with batch 2 and 2 accumulation steps: the same global
    batch. RETURNS (folder, corpus, settings for 2 processes)."""
    tmp = tmp_path_factory.mktemp("ddp")
    corpus = _corpus(tmp / "corpus.txt")
    base = _no_dropout_bert(tiny_bert, tmp / "bert")
    one = dict(DDP_SETTINGS, base_model=str(base), batch_size=8)
    two = dict(one, batch_size=2, gradient_accumulation_steps=2)
    single = _pretrain(corpus, tmp / "one", one, 1)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = _pretrain(corpus, tmp / "ddp", two, 2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("held-out MLM loss") == 1  # one report, from rank 0
    return tmp, corpus, two


def test_pretrain_under_torchrun_equals_one_process(ddp_runs):
    """Two processes with batch 2 x 2 accumulation steps train as one process
    with batch 8: the same per-step losses, weights and held-out loss. The head warm-up (encoder
    frozen: DDP gets no gradients for it) runs across the processes too."""
    import torch
    from safetensors.torch import load_file

    tmp, _, two = ddp_runs
    w1, r1, l1 = _state(tmp / "one")
    w2, r2, l2 = _state(tmp / "ddp")
    assert (r1["processes"], r2["processes"]) == (1, 2) and r1["global_batch"] == r2["global_batch"] == 8
    assert sorted(l1) == sorted(l2) == [1, 2, 3, 4, 5, 6]
    assert [l2[s] for s in sorted(l2)] == pytest.approx([l1[s] for s in sorted(l1)], rel=1e-4)
    assert len(set(l1.values())) == 6  # real, changing losses
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.allclose(w1[k], w2[k], atol=1e-5), k
    assert r2["eval_masked_tokens"] == r1["eval_masked_tokens"] > 0  # every held-out sequence once
    assert r2["eval_loss"] == pytest.approx(r1["eval_loss"], rel=1e-5)
    # head warm-up under DDP: the encoder is exactly as it started at checkpoint-2
    start = load_file(str(Path(two["base_model"]) / "model.safetensors"))
    warm = load_file(str(tmp / "ddp" / "checkpoint-2" / "model.safetensors"))
    shared = [k for k in start if f"bert.{k}" in warm]
    assert len(shared) > 30
    assert all(torch.equal(warm[f"bert.{k}"], start[k]) for k in shared)
    assert not all(torch.equal(w2[f"bert.{k}"], start[k].double()) for k in shared)


def test_pretrain_under_torchrun_killed_and_resumed(ddp_runs):
    """Killed with SIGKILL mid-step and run again under torchrun, the run resumes
    from its last checkpoint and ends as the uninterrupted one."""
    import torch

    tmp, corpus, two = ddp_runs
    driver = tmp / "ddp_driver.py"
    driver.write_text(DDP_DRIVER, encoding="utf8")
    killed = _pretrain(corpus, tmp / "resumed", two, 2, driver=driver, kill_at=5)
    assert killed.returncode != 0 and "SIGKILL" in killed.stderr
    assert (tmp / "resumed" / "checkpoint-4").exists()
    assert not (tmp / "resumed" / "checkpoint-6").exists()
    resumed = _pretrain(corpus, tmp / "resumed", two, 2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    w2, _, l2 = _state(tmp / "ddp")
    w3, r3, l3 = _state(tmp / "resumed")
    assert r3["resumed_from"] == "checkpoint-4" and r3["global_step"] == 6 and r3["processes"] == 2
    assert sorted(l3) == [1, 2, 3, 4, 5, 6]  # step 5 redone once, nothing lost or repeated
    assert l3 == pytest.approx(l2, rel=1e-5)
    for k in w2:
        assert torch.allclose(w2[k], w3[k], atol=1e-6), k


def test_pretrain_too_small_for_the_global_batch(tiny_bert, tmp_path):
    from spacy_biobert.apps.pretrain import PretrainSettings, run_pretraining

    corpus = tmp_path / "c.txt"
    corpus.write_text("breast cancer .\n\npatients with cancer .\n", encoding="utf8")
    settings = PretrainSettings(base_model=str(tiny_bert), max_length=16, batch_size=4, max_steps=2,
                                eval_ratio=0.0)
    with pytest.raises(ValueError, match=r"\[E2660\] .*c\.txt packs into 2 training sequences.*\(4 x 1\)"):
        run_pretraining(corpus, tmp_path / "out", settings)


@pytest.mark.parametrize("sparse", [True, False])
def test_pretrain_loss_of_a_split_batch_adds_up(tiny_bert, sparse):
    """A global batch split over processes or accumulation steps: each part's
    loss is its summed cross-entropy over the global count of masked tokens, so
    the parts' losses (and gradients) add up to the whole batch's mean loss."""
    import torch
    from transformers import BertForMaskedLM

    from spacy_biobert.apps.pretrain import global_batch_mlm_loss, use_sparse_mlm_head

    model = BertForMaskedLM.from_pretrained(str(tiny_bert), hidden_dropout_prob=0.0,
                                            attention_probs_dropout_prob=0.0)
    if sparse:
        assert use_sparse_mlm_head(model)
    model.train()
    torch.manual_seed(2)
    ids = torch.randint(5, model.config.vocab_size, (4, 9))
    labels = torch.full_like(ids, -100)
    labels[0, 1], labels[0, 4], labels[0, 7], labels[2, 3] = ids[0, 1], ids[0, 4], ids[0, 7], ids[2, 3]
    n = torch.tensor(4)  # masked tokens in the whole batch: 3 in the first half, 1 in the second

    def loss(rows, count) -> float:
        if sparse:
            return model(input_ids=ids[rows], labels=labels[rows], num_items_in_batch=count).loss.item()
        return global_batch_mlm_loss(model(input_ids=ids[rows]), labels[rows], count).item()

    whole = loss(slice(0, 4), None)
    parts = [loss(slice(0, 2), n), loss(slice(2, 4), n)]
    assert sum(parts) == pytest.approx(whole, rel=1e-5)
    # the mean of the halves' own means (what each process computed before) is not it
    assert (loss(slice(0, 2), None) + loss(slice(2, 4), None)) / 2 != pytest.approx(whole, rel=1e-3)


@pytest.mark.parametrize("whole_word", [False, True])
def test_pretrain_masks_do_not_depend_on_the_batch(tiny_bert, whole_word):
    """A sequence gets the same mask in a batch of 8 as in either half of it
    (what makes 2 processes x 4 mask as 1 x 8), a new one in the next epoch,
    and BERT's proportions; the global RNG is left as it was."""
    import torch
    from transformers import (
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        DataCollatorForWholeWordMask,
    )

    from spacy_biobert.apps.pretrain import SeededMasking

    tok = AutoTokenizer.from_pretrained(str(tiny_bert))
    cls = DataCollatorForWholeWordMask if whole_word else DataCollatorForLanguageModeling
    masking = SeededMasking(cls(tokenizer=tok, mlm_probability=0.15), seed=0)
    gen = torch.Generator().manual_seed(3)
    seqs = [{"input_ids": [tok.cls_token_id] + torch.randint(60, len(tok), (int(n),), generator=gen).tolist()
             + [tok.sep_token_id]} for n in torch.randint(40, 120, (8,), generator=gen)]
    state = torch.random.get_rng_state()
    whole = masking(seqs)
    assert torch.equal(state, torch.random.get_rng_state())
    for rows in (slice(0, 4), slice(4, 8)):
        part = masking(seqs[rows])
        w = part["input_ids"].shape[1]
        assert torch.equal(part["labels"], whole["labels"][rows, :w])
        assert torch.equal(part["input_ids"], whole["input_ids"][rows, :w])
        assert torch.equal(part["attention_mask"], whole["attention_mask"][rows, :w])
    labels, real = whole["labels"], whole["attention_mask"].bool()
    masked = labels != -100
    assert not masked[~real].any() and not masked[:, 0].any()  # no padding, no [CLS]
    share = masked.sum().item() / (real.sum().item() - 16)
    assert 0.10 < share < 0.20, share
    if not whole_word:
        assert 0.6 < (whole["input_ids"][masked] == tok.mask_token_id).float().mean().item() < 0.95
    masking.epoch = 1
    assert not torch.equal(masking(seqs)["labels"], labels)


def test_pretrain_one_process_tokenises_without_a_pool(tiny_bert, tmp_path, monkeypatch):
    """num_proc=1 (the default) tokenises and packs in this process: datasets
    would otherwise fork a pool of one, which can hang in a process whose
    torch or ONNX Runtime threads have run (seen once in the full suite)."""
    import multiprocess.pool
    from transformers import AutoTokenizer

    from spacy_biobert.apps.pretrain import PretrainSettings
    from spacy_biobert.apps.pretrain_data import build_datasets

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(multiprocess.pool, "Pool", no_pool)
    corpus = _corpus(tmp_path / "corpus.txt")
    settings = PretrainSettings(base_model=str(tiny_bert), max_length=16, batch_size=4, eval_ratio=0.2)
    data = build_datasets(corpus, AutoTokenizer.from_pretrained(str(tiny_bert)), settings, tmp_path / "cache")
    assert len(data["train"]) > 0 and len(data["eval"]) > 0
    assert all(len(ids) <= 16 for ids in data["train"]["input_ids"])
