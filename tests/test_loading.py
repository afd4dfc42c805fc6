"""Loading pipeline folders safely (spacy_biobert/integrity.py; README,
"Loading pipelines safely"): a damaged file is named with its component, also
by a plain ``spacy.load``; silent damage (a block of zeros) is found; weights
that carry a pickled payload are refused before it can run."""

import io
import pathlib
import shutil

import pytest
import spacy
import srsly
import torch

from spacy_biobert.cli.load import load_pipeline
from spacy_biobert.integrity import (
    MANIFEST,
    DamagedPipelineError,
    UnsafePipelineError,
    sha256_file,
)

OLD_NER = pathlib.Path(__file__).parent / "fixtures" / "old_pipelines" / "ner"
pytestmark = pytest.mark.filterwarnings("ignore:.*\\[W2001\\]:UserWarning")


def copy_pipeline(src, tmp_path, name="nlp"):
    dest = tmp_path / name
    shutil.copytree(src, dest)
    return dest


def transformer_state_span(model_file):
    """(offset, length) of the torch.save'd state inside transformer/model."""
    data = model_file.read_bytes()
    shims = [s for node in srsly.msgpack_loads(data)["shims"] for s in node]
    state = srsly.msgpack_loads(shims[0])["state"]
    offset = data.find(state)
    assert offset > 0 and len(state) > 20000
    return offset, len(state)


def zero_block_in_tensor_data(model_file, size=4096):
    """Write `size` zeros into the middle of the state's tensor data (past
    its pickle, before its zip directory): torch's reader loads this."""
    offset, length = transformer_state_span(model_file)
    data = bytearray(model_file.read_bytes())
    start = offset + length // 2 - size // 2
    assert data[start:start + size] != bytes(size)
    data[start:start + size] = bytes(size)
    model_file.write_bytes(bytes(data))


def truncate(file):
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def test_loading_save_writes_a_sha256sum_manifest(ner_dir, tmp_path):
    nlp = spacy.load(ner_dir)
    out = tmp_path / "saved"
    nlp.to_disk(out)
    lines = (out / MANIFEST).read_text(encoding="utf8").splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    # every file but the hand-edited ones, with its sha256
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted(listed) == [f for f in files if f not in ("config.cfg", "meta.json", MANIFEST)]
    assert "transformer/model" in listed and "ner/model" in listed
    assert all(listed[f] == sha256_file(out / f) for f in listed)
    # a hand edit of meta.json does not make the folder "damaged"
    meta = srsly.read_json(out / "meta.json")
    meta["description"] = "edited by hand"
    srsly.write_json(out / "meta.json", meta)
    assert spacy.load(out).pipe_names == ["transformer", "ner"]


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "no-manifest"])
def test_loading_truncated_transformer_is_named(ner_dir, tmp_path, manifest):
    path = copy_pipeline(ner_dir, tmp_path)
    if not manifest:
        (path / MANIFEST).unlink()
    truncate(path / "transformer" / "model")
    with pytest.raises(DamagedPipelineError) as exc:
        spacy.load(path)
    text = str(exc.value)
    assert "[E2040]" in text and "transformer/model (of component 'transformer')" in text
    assert str(path) in text and "Copy the folder again" in text
    want = "sha256 differs" if manifest else "cannot be read (Unpack failed: incomplete input)"
    assert want in text


def test_loading_zeroed_block_is_found_by_the_manifest(ner_dir, tmp_path):
    path = copy_pipeline(ner_dir, tmp_path)
    zero_block_in_tensor_data(path / "transformer" / "model")
    with pytest.raises(DamagedPipelineError, match=r"transformer/model \(of component 'transformer'\) is not the file that was saved"):
        spacy.load(path)


def test_loading_zeroed_block_is_found_by_crc_without_manifest(ner_dir, tmp_path):
    """The zeros load silently in torch (its zip reader does not check the
    records' CRC32); the check reads them with the CRC32 torch.save wrote."""
    path = copy_pipeline(ner_dir, tmp_path)
    (path / MANIFEST).unlink()
    zero_block_in_tensor_data(path / "transformer" / "model")
    with pytest.raises(DamagedPipelineError, match=r"transformer/model .* fails its zip/CRC32 check \(Bad CRC-32"):
        spacy.load(path)


def test_loading_zeroed_ner_weights_are_found_by_the_manifest(ner_dir, tmp_path):
    """ner/model has no CRC of its own: only the manifest finds this."""
    path = copy_pipeline(ner_dir, tmp_path)
    model = path / "ner" / "model"
    data = bytearray(model.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)
    model.write_bytes(bytes(data))
    with pytest.raises(DamagedPipelineError, match=r"ner/model \(of component 'ner'\) is not the file that was saved"):
        spacy.load(path)


def test_loading_missing_file_listed_in_manifest(ner_dir, tmp_path):
    path = copy_pipeline(ner_dir, tmp_path)
    (path / "ner" / "cfg").unlink()
    with pytest.raises(DamagedPipelineError, match=r"ner/cfg \(of component 'ner'\) is missing"):
        spacy.load(path)


def test_loading_old_pipeline_truncated_is_named(tmp_path, monkeypatch):
    """A pipeline saved before the manifest (tests/fixtures/old_pipelines)
    still gets the named error; its intact copy loads (test_old_pipelines)."""
    path = copy_pipeline(OLD_NER, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert not (path / MANIFEST).exists()
    truncate(path / "transformer" / "model")
    with pytest.raises(DamagedPipelineError, match=r"transformer/model \(of component 'transformer'\) cannot be read"):
        spacy.load(path)


def test_loading_damaged_cfg_is_named_by_the_component_load(ner_dir, tmp_path):
    """Damage the prechecks do not read (a component's cfg) is named by the
    error of the component's own load."""
    path = copy_pipeline(ner_dir, tmp_path)
    (path / MANIFEST).unlink()
    (path / "ner" / "cfg").write_bytes(b'{"labels": ["Dis')
    with pytest.raises(DamagedPipelineError, match=r"ner/cfg \(of component 'ner'\) cannot be loaded"):
        spacy.load(path)


def test_loading_cli_gives_one_line(ner_dir, tmp_path, capsys):
    path = copy_pipeline(ner_dir, tmp_path)
    truncate(path / "transformer" / "model")
    with pytest.raises(SystemExit) as exc:
        load_pipeline(str(path))
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "[E2040]" in out and "transformer/model" in out and "Traceback" not in out


def _inject_payload(path, marker):
    """Replace the transformer's weights by a torch.save'd dict that holds,
    beside a tensor, an object whose unpickling creates `marker`; write a
    fresh, valid manifest, as whoever tampers with a folder can."""
    model = path / "transformer" / "model"
    outer = srsly.msgpack_loads(model.read_bytes())
    node = next(i for i, shims in enumerate(outer["shims"]) if shims)
    shim = srsly.msgpack_loads(outer["shims"][node][0])

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    buf = io.BytesIO()
    torch.save({"embeddings.word_embeddings.weight": torch.zeros(2, 2), "x": Payload()}, buf)
    shim["state"] = buf.getvalue()
    outer["shims"][node] = [srsly.msgpack_dumps(shim)]
    model.write_bytes(srsly.msgpack_dumps(outer))
    from spacy_biobert.integrity import write_manifest

    write_manifest(path)


def test_loading_pickle_payload_is_refused(ner_dir, tmp_path, monkeypatch):
    """Even with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, which makes torch >= 2.6
    unpickle anything again when the caller (spacy-transformers) does not
    pass weights_only, the payload never runs."""
    path = copy_pipeline(ner_dir, tmp_path)
    marker = tmp_path / "payload_ran"
    _inject_payload(path, marker)
    # the payload is live: a plain torch.load runs it
    state = srsly.msgpack_loads(
        [s for n in srsly.msgpack_loads((path / "transformer" / "model").read_bytes())["shims"] for s in n][0]
    )["state"]
    torch.load(io.BytesIO(state), weights_only=False)
    assert marker.exists()
    marker.unlink()

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(UnsafePipelineError) as exc:
        spacy.load(path)
    text = str(exc.value)
    assert "[E2041]" in text and "transformer/model (of component 'transformer')" in text
    assert "sources you trust" in text
    assert not marker.exists()


def test_loading_spacy_train_writes_the_manifest(tiny_bert, tmp_path):
    """`spacy train` with configs/ner.cfg (unchanged: the components'
    factories install the guards) saves model-best and model-last with a
    manifest that matches their files."""
    import subprocess
    import sys

    train = tmp_path / "train.tsv"
    train.write_text(
        "familial\tB-Disease\npolyposis\tI-Disease\nis\tO\nrare\tO\n\nthe\tO\ngene\tO\n.\tO\n",
        encoding="utf8",
    )
    config = pathlib.Path(__file__).parent.parent / "configs" / "ner.cfg"
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(config), "--output", str(tmp_path / "out"),
         "--paths.train", str(train), "--paths.dev", str(train), "--paths.base_model", str(tiny_bert),
         "--training.max_steps", "2", "--training.max_epochs", "1"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ("model-best", "model-last"):
        path = tmp_path / "out" / name
        lines = (path / MANIFEST).read_text(encoding="utf8").splitlines()
        listed = dict(reversed(line.split("  ", 1)) for line in lines)
        assert "transformer/model" in listed and "ner/model" in listed
        assert all(listed[f] == sha256_file(path / f) for f in listed), name
    truncate(tmp_path / "out" / "model-best" / "ner" / "model")
    with pytest.raises(DamagedPipelineError, match=r"ner/model \(of component 'ner'\)"):
        spacy.load(tmp_path / "out" / "model-best")


@pytest.mark.parametrize("line", ["not a checksum line", "ab  ner/model", "0" * 64 + "  ../outside"])
def test_loading_malformed_manifest_line(ner_dir, tmp_path, line):
    path = copy_pipeline(ner_dir, tmp_path)
    with (path / MANIFEST).open("a", encoding="utf8") as f:
        f.write(line + "\n")
    n = len((path / MANIFEST).read_text(encoding="utf8").splitlines())
    with pytest.raises(DamagedPipelineError, match=rf"{MANIFEST}:{n}: malformed line .*\[E2042\]|\[E2042\] .*{MANIFEST}:{n}: malformed line"):
        spacy.load(path)
