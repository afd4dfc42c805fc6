"""Test helpers: a tiny, randomly initialised BERT built offline."""

from pathlib import Path
from typing import Iterable, Union

TINY_WORDS = (
    "the of and in to a with is was for by that on as are from at were patients "
    "cancer disease syndrome tumor tumour gene protein mutation mutations cell cells "
    "breast colon colorectal ovarian deficiency familial hereditary adenomatous "
    "polyposis coli apc dna rna acid treatment risk patient study analysis "
    "identification human expression observed associated type an this these "
    "not be or it which we have has been carriers women men".split()
)


def make_tiny_bert(
    path: Union[str, Path], *, extra_words: Iterable[str] = (), cased: bool = False,
    max_position_embeddings: int = 512,
) -> Path:
    """Write a 2-layer, 32-wide BERT with a small WordPiece vocabulary to `path`."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:()-/'\"%+=[]")
    if cased:
        chars += list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    pieces = [f"##{c}" for c in chars]
    words = list(dict.fromkeys(list(TINY_WORDS) + list(extra_words)))
    vocab = list(dict.fromkeys(special + chars + pieces + words))
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=not cased)
    tokenizer.save_pretrained(str(path))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=37,
        max_position_embeddings=max_position_embeddings,
    )
    BertModel(config).save_pretrained(str(path))
    return path


NER_CONFIG = Path(__file__).parent.parent / "configs" / "ner.cfg"


def make_ner_nlp(base_model: Union[str, Path], **overrides):
    """A transformer + biobert_ner pipeline from configs/ner.cfg on `base_model`."""
    import spacy
    from thinc.api import Config

    all_overrides = {"paths.base_model": str(base_model)}
    all_overrides.update(overrides)
    config = Config().from_disk(NER_CONFIG, overrides=all_overrides)
    return spacy.util.load_model_from_config(config, auto_fill=True, validate=True)


# fmt: off
TRAIN_DATA = [
    ("familial adenomatous polyposis is a hereditary cancer syndrome .",
     [(0, 3, "Disease"), (6, 8, "Disease")]),
    ("women with breast cancer were observed .", [(2, 4, "Disease")]),
    ("the apc gene is not associated with this risk .", []),
    ("patients with colorectal cancer and ovarian cancer", [(2, 4, "Disease"), (5, 7, "Disease")]),
]
# fmt: on


def make_examples(nlp):
    from spacy.tokens import Doc, Span
    from spacy.training import Example

    examples = []
    for text, ents in TRAIN_DATA:
        words = text.split()
        ref = Doc(nlp.vocab, words=words)
        ref.ents = [Span(ref, s, e, label=label) for s, e, label in ents]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    return examples


def overfit(nlp, examples, steps: int = 100, learn_rate: float = 0.003, seed: int = 0):
    """Initialise `nlp` on `examples` and update it `steps` times on them (no
    dropout): the tiny model then predicts them, so tests have something to check."""
    from spacy.util import fix_random_seed
    from thinc.api import Adam

    fix_random_seed(seed)
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp


def package_and_run(model_dir: Path, name: str, tmp_path: Path, code: str) -> dict:
    """`spacy package` a saved pipeline as en_<name> and pip-install the package
    (no dependencies: spacy-biobert is already here; no build isolation, so no
    download; the wheel build of `--build wheel` is tested by test_project)
    into a folder of its own, then run `code` in a new interpreter with that folder on its
    path, so that `spacy.load("en_<name>")` finds the package by name. `code`
    prints one JSON object as its last line; it is returned."""
    import json
    import os
    import subprocess
    import sys

    out_dir = tmp_path / "packages"
    out_dir.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "spacy", "package", str(model_dir), str(out_dir),
         "--name", name, "--version", "0.0.1", "--build", "none", "--force"],
        check=True, capture_output=True,
    )
    package_dir = out_dir / f"en_{name}-0.0.1"
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(package_dir)],
        check=True, capture_output=True,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_texts(n, seed=0):
    """`n` random texts of 3 to 12 tiny-vocabulary words."""
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(TINY_WORDS) for _ in range(rng.randint(3, 12))) for _ in range(n)]


def read_records(path):
    """The records of a JSONL file, in order."""
    import json

    return [json.loads(line) for line in Path(path).read_text(encoding="utf8").splitlines()]


def strip_confidence(records, ndigits=4):
    """Records with confidences rounded: batches of other sizes pad differently."""
    out = []
    for rec in records:
        rec = dict(rec)
        rec["entities"] = [
            {**e, "confidence": round(e["confidence"], ndigits)} if "confidence" in e else e
            for e in rec["entities"]
        ]
        out.append(rec)
    return out


def run_annotate(nlp, inp, out, **kwargs):
    """`annotate` without a progress bar, collecting the bad-record messages:
    (stats, messages)."""
    from spacy_biobert.apps.annotate import annotate

    messages: list = []
    stats = annotate(nlp, inp, out, report=messages.append, show_progress=False, **kwargs)
    return stats, messages
