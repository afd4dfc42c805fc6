"""`spacy-biobert task-text` and `pretrain --add-corpus`: task-adaptive
pre-training's corpus."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_biobert.apps.pretrain_data import read_documents
from spacy_biobert.apps.task_text import task_documents, write_task_text
from spacy_biobert.cli import app

IOB = "Mutations\tO\nin\tO\nBRCA1\tO\ncause\tO\nbreast\tB-Disease\ncancer\tI-Disease\n.\tO\n\n"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _iob(path: Path, n: int) -> Path:
    path.write_text("".join(IOB.replace("Mutations", f"Mutations{i}") for i in range(n)), encoding="utf8")
    return path


def test_iob_sentences_are_grouped_into_documents(tmp_path):
    docs = list(task_documents(_iob(tmp_path / "train.tsv", 5), sentences_per_document=2))
    assert docs == [
        "Mutations0 in BRCA1 cause breast cancer . Mutations1 in BRCA1 cause breast cancer .",
        "Mutations2 in BRCA1 cause breast cancer . Mutations3 in BRCA1 cause breast cancer .",
        "Mutations4 in BRCA1 cause breast cancer .",
    ]


def test_pubtator_documents_stay_whole(tmp_path):
    path = tmp_path / "train.pubtator"
    path.write_text("1|t|Title one.\n1|a|Abstract one.\n1\t0\t5\tTitle\tDisease\tD1\n\n"
                    "2|t|Title two.\n2|a|Abstract two.\n\n", encoding="utf8")
    assert list(task_documents(path, sentences_per_document=1)) == ["Title one. Abstract one.",
                                                                     "Title two. Abstract two."]


def test_re_binary_and_written_corpus_reads_back(tmp_path):
    gad = tmp_path / "gad.tsv"
    gad.write_text("@GENE$ causes @DISEASE$ .\t1\nno link of @GENE$ to @DISEASE$ .\t0\n", encoding="utf8")
    out = tmp_path / "task.txt"
    counts = write_task_text([_iob(tmp_path / "a.tsv", 3)], out, sentences_per_document=2)
    assert counts["documents"] == 2  # 3 IOB sentences -> 2 documents
    # a GAD file read as NER: the NER reader's error names the file and line; nothing is replaced
    with pytest.raises(ValueError, match=r"\[E2202\] .*gad.tsv:1"):
        write_task_text([gad], out)
    assert len(list(read_documents(out))) == 2
    with pytest.raises(ValueError):
        list(task_documents(gad, "nope"))
    counts = write_task_text([gad], out, fmt="re-binary", sentences_per_document=1)
    # the pre-training reader sees exactly the documents written
    assert list(read_documents(out)) == ["@GENE$ causes @DISEASE$ .", "no link of @GENE$ to @DISEASE$ ."]
    assert counts == {"documents": 2, "characters": 25 + 32}
    before = gad.read_bytes()
    with pytest.raises(ValueError, match=r"\[E2674\]"):
        write_task_text([gad], gad, fmt="re-binary")
    assert gad.read_bytes() == before


def test_cli_task_text(tmp_path):
    out = tmp_path / "task.txt"
    result = invoke("task-text", _iob(tmp_path / "train.tsv", 4), "-o", out, "--sentences-per-document", "3")
    assert result.exit_code == 0, result.output
    assert len(list(read_documents(out))) == 2 and "Wrote 2 documents" in result.output
    result = invoke("task-text", tmp_path / "train.tsv", "-o", out, "--sentences-per-document", "0")
    assert result.exit_code == 1 and "E2673" in result.output
    # --datasets: DATA_DIR/<data set>/train.tsv each (the project's task-text command)
    for name, n in (("a", 3), ("b", 2)):
        (tmp_path / "ner" / name).mkdir(parents=True)
        _iob(tmp_path / "ner" / name / "train.tsv", n)
    result = invoke("task-text", "-o", out, "--datasets", "a,b", "--data-dir", tmp_path / "ner",
                    "--sentences-per-document", "1")
    assert result.exit_code == 0, result.output
    assert len(list(read_documents(out))) == 5
    result = invoke("task-text", "-o", out, "--datasets", "a,nope", "--data-dir", tmp_path / "ner")
    assert result.exit_code == 1 and "nope" in result.output and len(list(read_documents(out))) == 5


def test_add_corpus_joins_the_training_side_only(tmp_path):
    """Held-out documents come from the main corpus alone (so held-out losses
    of runs with and without --add-corpus are comparable); the added documents
    are all in the training side."""
    from types import SimpleNamespace

    from transformers import BertTokenizerFast

    from spacy_biobert.apps.pretrain_data import build_datasets

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "main", "task", "doc", "."]) + "\n")
    tok = BertTokenizerFast(str(vocab))
    main = tmp_path / "main.txt"
    main.write_text("\n\n".join("main doc ." for _ in range(20)) + "\n", encoding="utf8")
    task = tmp_path / "task.txt"
    task.write_text("\n\n".join("task doc ." for _ in range(7)) + "\n", encoding="utf8")
    settings = SimpleNamespace(eval_ratio=0.25, seed=0, num_proc=1, max_length=16, add_corpora=[])
    plain = build_datasets(main, tok, settings, tmp_path / "c1")
    settings.add_corpora = [str(task)]
    tapt = build_datasets(main, tok, settings, tmp_path / "c2")
    task_id = tok.convert_tokens_to_ids("task")
    assert len(tapt["train"]) == len(plain["train"]) + 7 == 15 + 7
    assert sum(task_id in ids for ids in tapt["train"]["input_ids"]) == 7
    assert tapt["eval"]["input_ids"] == plain["eval"]["input_ids"] and len(tapt["eval"]) == 5
    assert not any(task_id in ids for ids in tapt["eval"]["input_ids"])
