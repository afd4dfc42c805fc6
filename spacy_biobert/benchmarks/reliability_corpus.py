"""The hostile corpus of the reliability benchmark, and what a correct run must give.

Three inputs of ``spacy-biobert annotate``, written into a folder, seeded:

- ``jsonl/``: ``a.jsonl`` (a UTF-8 BOM on the first line, plain records, empty
  texts, zero-width and control characters, texts with lone surrogates (JSON
  ``\\ud800`` escapes), one document over 1,000,000 characters, duplicate ids
  (also ``7`` against ``"7"``), bad records of many kinds (invalid JSON, a
  100,000-deep array, values that are not objects, missing/empty/boolean/float
  ids, missing or non-string texts), random-Unicode texts and random JSON
  values) and ``b.jsonl.gz``, gzipped and cut at 60% of its bytes;
- ``lines/a.txt``: one document per line, split on ``\\n`` only: a BOM, empty
  lines, a bare ``\\r`` inside a line, a ``\\r\\n`` ending, control and zero-width
  characters, invalid UTF-8 lines and random-bytes lines;
- ``pubmed.xml``: PubMed articles, one without a PMID, one PMID twice, then an
  unescaped ``&`` (malformed XML) and more articles after it.

The expectation of each input is computed here, from the documented rules of
``annotate`` (README, *Annotating a corpus*), independently of its code:

- *good*: must be in the output exactly once (by id);
- *bad*: must not be in the output, and is reported (a bad record, a duplicate
  id, an invalid UTF-8 line, the malformed XML file: one report);
- *either*: may be in the output (at most once) or not, and may be reported:
  the cut last line of the truncated .gz (it has no id: counted only);
- what lies after the cut of the .gz and after the malformed XML cannot be
  read: neither expected nor reported ("bad by design", counted as ``unreadable``).
"""

import gzip
import json
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

WORDS = (
    "the of and in with patients cancer disease syndrome tumor gene protein mutation "
    "breast colon ovarian familial hereditary adenomatous polyposis apc dna risk study "
    "women men cells expression associated type"
).split()
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202e"
CONTROL = "".join(chr(c) for c in range(0, 32) if chr(c) not in "\n\r") + "\x7f\x85"


@dataclass
class Expected:
    """What a correct run over one input gives."""

    good: Dict[str, str] = field(default_factory=dict)  # id -> text
    bad: int = 0  # reports a correct run makes
    either: int = 0  # records that may be annotated or reported (no id)
    unreadable: int = 0  # records after a cut or a parse error

    def add(self, other: "Expected") -> None:
        self.good.update(other.good)
        self.bad += other.bad
        self.either += other.either
        self.unreadable += other.unreadable


@dataclass
class Corpus:
    """The inputs (name -> path) and their expectations (name -> Expected)."""

    root: Path
    inputs: Dict[str, Path] = field(default_factory=dict)
    expected: Dict[str, Expected] = field(default_factory=dict)


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def random_unicode(rng: random.Random, n: int, surrogates: bool = True) -> str:
    """`n` code points from all planes (lone surrogates too if asked), some plain words."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            out.append(" " + rng.choice(WORDS))
        elif r < 0.6:
            out.append(chr(rng.randint(0x20, 0x2FFF)))
        elif r < 0.8:
            out.append(chr(rng.randint(0x10000, 0x10FFFF)))
        else:
            c = rng.randint(0, 0xFFFF)
            if not surrogates and 0xD800 <= c <= 0xDFFF:
                c = 0xFFFD
            out.append(chr(c))
    return "".join(out)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value; objects often have an `id` and a `text`, of any type."""
    kinds = ["int", "float", "str", "bool", "null", "list", "obj", "record", "record"]
    kind = rng.choice(kinds if depth < 3 else kinds[:5])
    if kind == "int":
        return rng.choice([0, -1, 7, 10**30, rng.randint(-10**6, 10**6)])
    if kind == "float":
        return rng.choice([1.5, -0.0, 1e308, float("nan"), float("inf")])
    if kind == "str":
        return random_unicode(rng, rng.randint(0, 6), surrogates=False)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "obj":
        return {random_unicode(rng, 3, surrogates=False): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    record: Dict[str, Any] = {}
    if rng.random() < 0.8:
        record["id"] = rng.choice([
            f"j{rng.randint(0, 10**9)}", rng.randint(0, 50), "", "  ", True, 2.5, None, [1],
            random_unicode(rng, rng.randint(1, 5), surrogates=False),
        ])
    if rng.random() < 0.8:
        record["text"] = rng.choice([
            words(rng, rng.randint(0, 8)), random_unicode(rng, rng.randint(0, 30)), None, 3, ["a"], {"t": "a"},
        ])
    return record


def valid_record(obj: Any) -> Optional[Tuple[str, str]]:
    """(id, text) of a JSONL value by the documented rules, or None (a bad record)."""
    if not isinstance(obj, dict):
        return None
    doc_id = obj.get("id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, (int, str)):
        return None
    if isinstance(doc_id, str) and not doc_id.strip():
        return None
    text = obj.get("text")
    if not isinstance(text, str):
        return None
    return str(doc_id), text


def expect_jsonl(lines: List[str], seen: Set[str], exp: Expected) -> None:
    """Add the records of JSONL `lines` (BOM dropped, blank lines skipped) to `exp`."""
    for i, line in enumerate(lines):
        if i == 0:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            exp.bad += 1
            continue
        record = valid_record(obj)
        if record is None or record[0] in seen:
            exp.bad += 1
            continue
        seen.add(record[0])
        exp.good[record[0]] = record[1]


def jsonl_a(rng: random.Random, n_records: int, n_random: int, big_chars: int) -> List[str]:
    """The lines of jsonl/a.jsonl (see the module docstring)."""
    dump = lambda obj: json.dumps(obj)  # noqa: E731 (ASCII: lone surrogates as \\ud800 escapes)
    lines = ["\ufeff" + dump({"id": "bom", "text": "women with breast cancer ."})]
    lines += [dump({"id": f"r{i}", "text": words(rng, rng.randint(3, 20))}) for i in range(n_records)]
    lines += [
        dump({"id": "empty", "text": ""}), dump({"id": "spaces", "text": "   \t  "}),
        dump({"id": "zero-width", "text": f"breast{INVISIBLE}cancer {INVISIBLE} apc"}),
        dump({"id": "control", "text": f"colon {CONTROL} cancer"}),
        dump({"id": "surrogate", "text": "apc \ud800 gene \udfff and \udc80"}),
        dump({"id": "surrogate-only", "text": "\ud83d"}),
        dump({"id": "crlf-in-text", "text": "colon\rcancer\r\nrisk\u2028and\u2029more"}),
        dump({"id": 7, "text": "an integer id"}), dump({"id": 10**30, "text": "a huge integer id"}),
    ]
    if big_chars:
        base = "familial adenomatous polyposis is a hereditary cancer syndrome . "
        lines.append(dump({"id": "big", "text": (base * (big_chars // len(base) + 1))[:big_chars]}))
    lines += [
        dump({"id": "r0", "text": "a duplicate id"}), dump({"id": "7", "text": "7 as a string: a duplicate"}),
        '{"id": "x1", "text": "unterminated', '{"id": "x2", "text": "trailing comma",}',
        "{'id': 'x3', 'text': 'single quotes'}", "NaN", "[1, 2, 3]", '"a string"', "null", "42",
        "[" * 100000 + "]" * 100000, '{"id": "x4"}', '{"text": "no id"}', '{"id": "", "text": "empty id"}',
        '{"id": "   ", "text": "blank id"}', '{"id": true, "text": "bool id"}', '{"id": 1.5, "text": "float id"}',
        '{"id": ["x5"], "text": "list id"}', '{"id": "x6", "text": null}', '{"id": "x7", "text": 5}',
        '{"id": "x8", "text": ["a"]}', '{"id": "x9", "text": {"a": 1}}', "   ", "",
    ]
    lines += [dump({"id": f"u{i}", "text": random_unicode(rng, rng.randint(0, 200))}) for i in range(n_random)]
    lines += [dump(random_json(rng)) for _ in range(n_random)]
    return lines


def write_truncated_gz(path: Path, lines: List[str], keep: float, seen: Set[str], exp: Expected) -> None:
    """Gzip `lines`, keep the first `keep` of its bytes; the records whose line
    can be decompressed whole are good (or bad), the cut line is `either`, the rest unreadable."""
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf8"), mtime=0)
    cut = data[: int(len(data) * keep)]
    path.write_bytes(cut)
    readable = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)
    end = readable.rfind(b"\n") + 1
    complete = readable[:end].decode("utf8").split("\n")[:-1]
    partial = 1 if readable[end:] else 0
    expect_jsonl(complete, seen, exp)
    exp.either += partial
    exp.unreadable += len(lines) - len(complete) - partial


def expect_lines(name: str, data: bytes, exp: Expected) -> None:
    """Lines of a `lines` file split on b'\\n' only; a BOM dropped; invalid UTF-8 lines bad."""
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for i, raw in enumerate(raw_lines, 1):
        if i == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf8").rstrip("\r")
        except UnicodeDecodeError:
            exp.bad += 1
            continue
        exp.good[f"{name}:{i}"] = text


def lines_a(rng: random.Random, n_records: int, n_random: int) -> bytes:
    """The bytes of lines/a.txt (see the module docstring)."""
    lines = [b"\xef\xbb\xbfwomen with breast cancer ."]
    lines += [words(rng, rng.randint(3, 20)).encode() for _ in range(n_records)]
    lines += [
        b"", b"   ", b"colon\rcancer bare carriage return", b"crlf ending\r",
        f"zero-width{INVISIBLE}apc".encode(), f"control {CONTROL} chars".encode(),
        b"invalid \xff\xfe utf-8", b"surrogate bytes \xed\xa0\x80 here", b"cut multibyte \xc3",
        b"\x00\x00 nul bytes", "ok unicode \u00e9\u4e2d\U0001f600".encode(),
    ]
    for _ in range(n_random):
        lines.append(bytes(rng.choice([b for b in range(256) if b != 10]) for _ in range(rng.randint(0, 80))))
    return b"\n".join(lines) + b"\n"


def pubmed_article(pmid: Optional[str], title: str, abstract: str) -> str:
    pmid_el = f"<PMID Version=\"1\">{pmid}</PMID>" if pmid is not None else ""
    return (
        f"<PubmedArticle><MedlineCitation>{pmid_el}<Article><ArticleTitle>{title}</ArticleTitle>"
        f"<Abstract><AbstractText>{abstract}</AbstractText></Abstract></Article>"
        "</MedlineCitation></PubmedArticle>\n"
    )


def pubmed_xml(rng: random.Random, n_records: int, exp: Expected) -> str:
    """A PubmedArticleSet: `n_records` good articles, one without a PMID, a
    duplicate PMID, then a malformed article (the rest of the file is lost)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n']
    for i in range(n_records):
        pmid, title, abstract = str(100000 + i), words(rng, 5), words(rng, 20)
        parts.append(pubmed_article(pmid, title, abstract))
        exp.good[pmid] = f"{title} {abstract}"
    parts.append(pubmed_article(None, "no pmid", "an article without a PMID"))
    parts.append(pubmed_article("100000", "duplicate", "the first PMID again"))
    parts.append(pubmed_article("200000", "broken & title", "an unescaped ampersand"))
    after = max(2, n_records // 4)
    parts += [pubmed_article(str(300000 + i), words(rng, 5), words(rng, 20)) for i in range(after)]
    parts.append("</PubmedArticleSet>\n")
    exp.bad += 3  # no PMID, duplicate, malformed XML
    exp.unreadable += 1 + after
    return "".join(parts)


INPUTS = ("jsonl", "lines", "pubmed")


def build_corpus(
    root: Path, *, seed: int = 0, n_records: int = 200, n_random: int = 50,
    big_chars: int = 1_200_000, inputs: Tuple[str, ...] = INPUTS,
) -> Corpus:
    """Write the hostile corpus under `root`; RETURNS its inputs and expectations."""
    rng = random.Random(seed)
    corpus = Corpus(root=root)
    root.mkdir(parents=True, exist_ok=True)
    if "jsonl" in inputs:
        folder, exp, seen = root / "jsonl", Expected(), set()  # type: ignore[var-annotated]
        folder.mkdir(exist_ok=True)
        lines = jsonl_a(rng, n_records, n_random, big_chars)
        (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")
        expect_jsonl(lines, seen, exp)
        gz_lines = [json.dumps({"id": f"g{i}", "text": words(rng, rng.randint(3, 20))})
                    for i in range(max(20, n_records // 2))]
        write_truncated_gz(folder / "b.jsonl.gz", gz_lines, 0.6, seen, exp)
        corpus.inputs["jsonl"], corpus.expected["jsonl"] = folder, exp
    if "lines" in inputs:
        folder, exp = root / "lines", Expected()
        folder.mkdir(exist_ok=True)
        data = lines_a(rng, n_records, n_random)
        (folder / "a.txt").write_bytes(data)
        expect_lines("a.txt", data, exp)
        corpus.inputs["lines"], corpus.expected["lines"] = folder, exp
    if "pubmed" in inputs:
        exp = Expected()
        path = root / "pubmed.xml"
        path.write_text(pubmed_xml(rng, max(5, n_records // 4), exp), encoding="utf8")
        corpus.inputs["pubmed"], corpus.expected["pubmed"] = path, exp
    return corpus
