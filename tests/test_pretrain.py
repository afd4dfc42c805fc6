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
        capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                                             "HF_HUB_OFFLINE": "1"},
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
        capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    for key in ("spacy_biobert_pretrain", "plain_hf_trainer"):
        assert res[key]["steps"] == 2 and res[key]["tokens"] > 0 and res[key]["tokens_per_s"] > 0
    # the same data and batches: the same tokens in the timed steps
    assert res["spacy_biobert_pretrain"]["tokens"] == res["plain_hf_trainer"]["tokens"]
    assert "ratio (tokens/s)" in proc.stdout
