"""Derive the two NER sets that no public URL serves as-is, JNLPBA and
Species-800, from the public sources named in the mirror's SOURCE.txt.

- JNLPBA train.tsv: BaderLab's copy with its renamed tags mapped back
  (PRGE->protein, CLLN->cell_line, CLTP->cell_type). dev/test are MTL's files,
  fetched directly by their URL.
- S800 train/dev/test.tsv: BaderLab's whole-corpus CoNLL file (800 abstracts, no
  document boundaries) cut into documents by aligning its sentences with the
  original standoff texts, split by spyysalo/s800's split lists, with
  ``-DOCSTART-<TAB>O`` and a blank line before each document.

Every source with a known md5 is checked, and so is every result (SOURCES and
RESULTS below; the results are the checksums of project.yml).
"""

import hashlib
import re
import shutil
import tarfile
import unicodedata
import urllib.request
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import Errors

BADERLAB = (
    "https://raw.githubusercontent.com/BaderLab/Biomedical-Corpora/"
    "16a661de8ed604dc71da0fcd3d29fcf3bc2ab5ce/corpora/NER/CoNLL/BIO"
)
S800_SPLIT = "https://raw.githubusercontent.com/spyysalo/s800/f5425e7498930757c8577828eabc41cf88d80348/split"
S800_STANDOFF = (
    "https://codeload.github.com/spyysalo/s800-revision-data/tar.gz/"
    "3f41fbb3e6a0d1056e939541dc35a26a8a659862"
)
STANDOFF_DIR = "original-standoff"

# data set -> source file (relative to its sources folder) -> (URL, md5 or None)
SOURCES: Dict[str, Dict[str, Tuple[str, Optional[str]]]] = {
    "jnlpba": {
        "train.tsv": (f"{BADERLAB}/JNLPBA_BIO/train.tsv", "78e3c4d23bfbaf53746becfe754b70b5"),
    },
    "s800": {
        "train.tsv": (f"{BADERLAB}/S800_BIO/train.tsv", None),
        "split/train.txt": (f"{S800_SPLIT}/train.txt", None),
        "split/devel.txt": (f"{S800_SPLIT}/devel.txt", None),
        "split/test.txt": (f"{S800_SPLIT}/test.txt", None),
        # a GitHub archive: its bytes are not stable, so no md5; the texts are
        # extracted to original-standoff/<pmid>.txt
        STANDOFF_DIR: (S800_STANDOFF, None),
    },
}
# data set -> derived file -> md5 (the mirror's files; also project.yml's checksums)
RESULTS: Dict[str, Dict[str, str]] = {
    "jnlpba": {"train.tsv": "a32378b9220994ab1d7f1cc832ce4cdb"},
    "s800": {
        "train.tsv": "a6bdd2189b0baba364d023bfd78e0b50",
        "dev.tsv": "a6fc9407e17339a3f4496385e56b079f",
        "test.tsv": "d768802170506011bc9689984a77ef05",
    },
}
JNLPBA_TAGS = {"PRGE": "protein", "CLLN": "cell_line", "CLTP": "cell_type"}
S800_SPLITS = {"train": "train", "devel": "dev", "test": "test"}
DOCSTART = "-DOCSTART-\tO"


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- JNLPBA


_JNLPBA_TAG = re.compile(r"\t([BI])-(PRGE|CLLN|CLTP)$")


def jnlpba_from_baderlab(text: str) -> str:
    """BaderLab's JNLPBA file -> MTL's tags: the tag column's PRGE, CLLN and
    CLTP types are renamed back; every other byte is kept."""
    lines = text.split("\n")
    return "\n".join(_JNLPBA_TAG.sub(lambda m: f"\t{m.group(1)}-{JNLPBA_TAGS[m.group(2)]}", line) for line in lines)


# ---- Species-800


def conll_sentences(text: str) -> List[List[str]]:
    """Sentences of a CoNLL text as lists of their lines (line ends removed);
    -DOCSTART- lines and blank-line runs are dropped."""
    sentences: List[List[str]] = []
    current: List[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if current:
                sentences.append(current)
                current = []
            continue
        current.append(line)
    if current:
        sentences.append(current)
    return sentences


def _squash(text: str) -> str:
    """Text without whitespace, compatibility-normalised: what the tokens of a
    CoNLL conversion concatenate to."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _sentence_text(sentence: Sequence[str]) -> str:
    return _squash("".join(line.split()[0] for line in sentence))


def _match(chunks: Sequence[str], pos: int, doc: str) -> int:
    """How many sentences from `pos` on make up exactly `doc` (0: they do not)."""
    acc = ""
    for i in range(pos, len(chunks)):
        acc += chunks[i]
        if acc == doc:
            return i - pos + 1
        if not doc.startswith(acc):
            return 0
    return 0


def align_documents(sentences: Sequence[Sequence[str]], texts: Mapping[str, str]) -> List[Tuple[str, List[Sequence[str]]]]:
    """Cut a stream of sentences without document boundaries into documents: each
    document is the run of sentences whose tokens concatenate to its text (all
    whitespace ignored). Documents are tried in sorted id order first (the
    order standoff2conll reads files in), then any other. RETURNS: [(id, sentences)]."""
    chunks = [_sentence_text(s) for s in sentences]
    remaining = {pmid: _squash(texts[pmid]) for pmid in sorted(texts)}
    docs: List[Tuple[str, List[Sequence[str]]]] = []
    pos = 0
    while pos < len(chunks):
        found = next(((p, n) for p, doc in remaining.items() if doc and (n := _match(chunks, pos, doc))), None)
        if found is None:
            raise ValueError(Errors.E2650.format(n=pos + 1, text=" ".join(sentences[pos])[:60]))
        pmid, n = found
        docs.append((pmid, list(sentences[pos : pos + n])))
        del remaining[pmid]
        pos += n
    if remaining:
        raise ValueError(Errors.E2651.format(n=len(remaining), ids=", ".join(list(remaining)[:5])))
    return docs


def s800_from_sources(whole: str, texts: Mapping[str, str], splits: Mapping[str, Sequence[str]]) -> Dict[str, str]:
    """BaderLab's whole-corpus S800 CoNLL text + the standoff texts (id -> text)
    + the split lists (train/devel/test -> ids) -> {"train": ..., "dev": ...,
    "test": ...}: each split's documents in the whole file's order, each after
    '-DOCSTART-<TAB>O' and a blank line, a blank line after every sentence."""
    split_of: Dict[str, str] = {}
    for split, ids in splits.items():
        for pmid in ids:
            if pmid in split_of:
                raise ValueError(Errors.E2652.format(id=pmid, what=f"in both {split_of[pmid]} and {split}"))
            split_of[pmid] = split
    out: Dict[str, List[str]] = {S800_SPLITS.get(s, s): [] for s in splits}
    for pmid, sents in align_documents(conll_sentences(whole), texts):
        if pmid not in split_of:
            raise ValueError(Errors.E2652.format(id=pmid, what="in no split list"))
        lines = out[S800_SPLITS.get(split_of[pmid], split_of[pmid])]
        lines.extend([DOCSTART, ""])
        for sent in sents:
            lines.extend(["\t".join(line.split()) for line in sent] + [""])
    return {name: "".join(line + "\n" for line in lines) for name, lines in out.items()}


def read_split_list(text: str) -> List[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_standoff_texts(folder: Path) -> Dict[str, str]:
    """<id>.txt files of a folder -> {id: text}."""
    return {p.stem: p.read_text(encoding="utf8") for p in sorted(Path(folder).glob("*.txt"))}


# ---- Sources and results on disk


def _download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=120) as r, tmp.open("wb") as f:
        shutil.copyfileobj(r, f)
    tmp.replace(dest)


def _extract_standoff(archive: Path, dest: Path) -> None:
    """original-standoff/<id>.txt of a GitHub archive -> dest/<id>.txt."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if member.isfile() and len(parts) >= 2 and parts[-2] == STANDOFF_DIR and parts[-1].endswith(".txt"):
                f = tar.extractfile(member)
                if f is not None:
                    (dest / Path(parts[-1]).name).write_bytes(f.read())


def fetch_sources(name: str, folder: Path, *, offline: bool = False) -> Path:
    """Put the public sources of data set `name` in `folder` (kept there, so a
    second derivation downloads nothing), checking the md5s that are known."""
    if name not in SOURCES:
        raise ValueError(Errors.E2653.format(name=name, names=", ".join(sorted(SOURCES))))
    folder = Path(folder)
    for rel, (url, checksum) in SOURCES[name].items():
        path = folder / rel
        if rel == STANDOFF_DIR:
            if not (path.is_dir() and any(path.glob("*.txt"))):
                if offline:
                    raise ValueError(Errors.E2654.format(name=name, path=path))
                archive = folder / "s800-revision-data.tar.gz"
                _download(url, archive)
                _extract_standoff(archive, path)
                archive.unlink()
            continue
        if not path.exists():
            if offline:
                raise ValueError(Errors.E2654.format(name=name, path=path))
            _download(url, path)
        if checksum and md5_file(path) != checksum:
            raise ValueError(Errors.E2655.format(path=path, expected=checksum, got=md5_file(path), url=url))
    return folder


def derive_texts(name: str, sources: Path) -> Dict[str, str]:
    """The derived files of data set `name` from its sources folder:
    {file name: text}."""
    sources = Path(sources)
    if name == "jnlpba":
        return {"train.tsv": jnlpba_from_baderlab((sources / "train.tsv").read_text(encoding="utf8"))}
    if name == "s800":
        splits = {s: read_split_list((sources / "split" / f"{s}.txt").read_text(encoding="utf8")) for s in S800_SPLITS}
        out = s800_from_sources(
            (sources / "train.tsv").read_text(encoding="utf8"),
            read_standoff_texts(sources / STANDOFF_DIR),
            splits,
        )
        return {f"{split}.tsv": text for split, text in out.items()}
    raise ValueError(Errors.E2653.format(name=name, names=", ".join(sorted(SOURCES))))


def derive_dataset(
    name: str, out_dir: Path, sources: Path, *, offline: bool = False, fetch: bool = True, verify: bool = True
) -> List[Path]:
    """Derive data set `name` into out_dir from the sources folder (fetched into
    it first unless fetch=False), verifying each result's md5 before it is
    written. RETURNS: the files written."""
    if fetch:
        fetch_sources(name, sources, offline=offline)
    texts = derive_texts(name, sources)
    if verify:
        for fname, text in texts.items():
            got = md5_bytes(text.encode("utf8"))
            expected = RESULTS[name][fname]
            if got != expected:
                raise ValueError(Errors.E2656.format(name=name, file=fname, expected=expected, got=got, sources=sources))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in texts.items():
        (out_dir / fname).write_bytes(text.encode("utf8"))
        written.append(out_dir / fname)
    return written
