#!/usr/bin/env python3
"""ChemProt's entity annotations (CHEMICAL, GENE-Y, GENE-N; not one of the
eight NER sets) as BRAT standoff folders, to try the own-data path on a data
set in a format corpora come in: <pmid>.txt (title + " " + abstract, the
separator ChemProt's offsets assume) and <pmid>.ann (T lines).

    python scripts/chemprot_to_brat.py assets/re/chemprot own_demo 200,60,100

writes own_demo/brat/{train,dev,test}/ with the first 200 / 60 / 100 abstracts
(sorted by PMID) of ChemProt training / development / test (0 = all)."""
import sys
from pathlib import Path

src = Path(sys.argv[1]); out = Path(sys.argv[2]); limits = dict(zip(("train", "dev", "test"), map(int, sys.argv[3].split(",")))) if len(sys.argv) > 3 else {}
splits = {"train": ("chemprot_training", "chemprot_training"), "dev": ("development", "chemprot_development"), "test": ("chemprot_test_gs", "chemprot_test")}
for split, (folder, prefix) in splits.items():
    abstracts = {}
    for line in (src / folder / f"{prefix}_abstracts{'_gs' if split == 'test' else ''}.tsv").read_text(encoding="utf8").splitlines():
        pmid, title, abstract = line.split("\t")
        abstracts[pmid] = title + " " + abstract
    ents = {}
    for line in (src / folder / f"{prefix}_entities{'_gs' if split == 'test' else ''}.tsv").read_text(encoding="utf8").splitlines():
        pmid, tid, typ, s, e, text = line.split("\t")
        ents.setdefault(pmid, []).append((tid, typ, int(s), int(e), text))
    pmids = sorted(abstracts)[: limits.get(split) or None]
    d = out / "brat" / split
    d.mkdir(parents=True, exist_ok=True)
    n = 0
    for pmid in pmids:
        text = abstracts[pmid]
        (d / f"{pmid}.txt").write_text(text, encoding="utf8")
        lines = []
        for tid, typ, s, e, t in ents.get(pmid, []):
            assert text[s:e] == t, (pmid, tid, text[s:e], t)
            lines.append(f"{tid}\t{typ} {s} {e}\t{t}")
            n += 1
        (d / f"{pmid}.ann").write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf8")
    print(split, len(pmids), "documents", n, "mentions")
