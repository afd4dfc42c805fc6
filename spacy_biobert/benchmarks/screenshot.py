"""Render a `spacy-biobert visualize` page in headless Chromium and check the screenshot.

    python -m spacy_biobert.benchmarks.screenshot --png shots/demo.png
    python -m spacy_biobert.benchmarks.screenshot --html page.html --png shots/page.png

Without ``--html`` it renders a demo page from hand-built docs (entities, one
relation arc, QA answers), so no trained pipeline is needed. The PNG is
decoded (plain zlib, no imaging library) and must not be blank: enough
non-white pixels and more than a few colours. Needs a Chromium binary
(Debian: ``apt-get install chromium``); ``--chromium`` or ``$CHROMIUM`` picks one.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Dict, List, Optional

import numpy

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome", "headless_shell")


def find_chromium(explicit: Optional[str] = None) -> Optional[str]:
    """The Chromium binary to use, or None when there is none."""
    for name in [explicit, os.environ.get("CHROMIUM")] + list(CHROMIUM_NAMES):
        if name:
            found = shutil.which(name)
            if found:
                return found
    return None


def screenshot(html_path: Path, png_path: Path, *, chromium: str, width: int = 1280,
               height: int = 1400, timeout: float = 120.0) -> Path:
    """Take a PNG screenshot of a local HTML file with headless Chromium.

    RETURNS (Path): the PNG file.
    """
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            f"--window-size={width},{height}", f"--screenshot={png_path.resolve()}",
            html_path.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not png_path.exists():
        raise RuntimeError(f"Chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png_path


def read_png(path: Path) -> numpy.ndarray:
    """Decode an 8-bit, non-interlaced greyscale/RGB/RGBA PNG into a (H, W, C) uint8 array."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    pos, idat = 8, []
    width = height = depth = color = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: unsupported PNG (bit depth {depth}, colour type {color}, interlace {interlace})")
    raw = numpy.frombuffer(zlib.decompress(b"".join(idat)), dtype=numpy.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = numpy.zeros((height, stride), dtype=numpy.uint8)
    prev = numpy.zeros(stride, dtype=numpy.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(numpy.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 0xFF
        elif kind == 1:
            # running sum per channel: x[i] = line[i] + x[i - channels]
            cur = (numpy.cumsum(line.reshape(width, channels), axis=0) & 0xFF).reshape(-1)
        else:
            cur = _unfilter_sequential(int(kind), line.tolist(), prev.tolist(), channels)
        out[y] = cur
        prev = numpy.asarray(cur, dtype=numpy.int32)
    return out.reshape(height, width, channels)


def _unfilter_sequential(kind: int, line: List[int], prev: List[int], bpp: int) -> numpy.ndarray:
    cur = [0] * len(line)
    for i, x in enumerate(line):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        if kind == 3:
            cur[i] = (x + ((a + b) >> 1)) & 0xFF
        else:  # Paeth
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (x + pred) & 0xFF
    return numpy.asarray(cur, dtype=numpy.int32)


def blank_stats(image: numpy.ndarray) -> Dict[str, float]:
    """How much of the image is drawn: the non-white fraction and the colour count."""
    rgb = image[..., :3] if image.shape[2] >= 3 else numpy.repeat(image[..., :1], 3, axis=2)
    non_white = numpy.any(rgb < 245, axis=2)
    colors = numpy.unique(rgb.reshape(-1, 3), axis=0)
    return {
        "width": int(image.shape[1]), "height": int(image.shape[0]),
        "non_white_fraction": round(float(non_white.mean()), 5),
        "n_colors": int(len(colors)),
    }


def is_blank(stats: Dict[str, float], *, min_non_white: float = 0.005, min_colors: int = 4) -> bool:
    return stats["non_white_fraction"] < min_non_white or stats["n_colors"] < min_colors


def demo_docs():
    """Hand-built docs with entities, a relation and QA answers (no model needed)."""
    import spacy
    from spacy.tokens import Doc, Span

    from ..extensions import install_extensions

    install_extensions()
    if not Doc.has_extension("answers"):
        Doc.set_extension("answers", default=None)
    nlp = spacy.blank("en")
    doc = nlp("Aspirin irreversibly inhibits COX-1 in platelets, and celecoxib selectively "
              "blocks COX-2 in patients with rheumatoid arthritis.")

    def span(text, label):
        start = doc.text.index(text)
        return doc.char_span(start, start + len(text), label=label)

    ents = [span("Aspirin", "CHEMICAL"), span("COX-1", "GENE"), span("celecoxib", "CHEMICAL"),
            span("COX-2", "GENE"), span("rheumatoid arthritis", "DISEASE")]
    doc.ents = ents

    def rec(s: Span):
        return {"start": s.start, "end": s.end, "start_char": s.start_char,
                "end_char": s.end_char, "label": s.label_}

    doc._.relations = [
        {"head": rec(ents[0]), "tail": rec(ents[1]), "label": "CPR:4", "score": 0.93},
        {"head": rec(ents[2]), "tail": rec(ents[3]), "label": "CPR:4", "score": 0.88},
    ]
    doc._.answers = [
        {"question": "What does aspirin inhibit?", "answers": [
            {"text": "COX-1", "start_char": ents[1].start_char, "end_char": ents[1].end_char, "score": 0.91},
            {"text": "COX-1 in platelets", "start_char": ents[1].start_char,
             "end_char": doc.text.index("platelets") + len("platelets"), "score": 0.42},
            {"text": "COX-2", "start_char": ents[3].start_char, "end_char": ents[3].end_char, "score": 0.05},
        ]},
        {"question": "Which disease do the patients have?", "answers": [
            {"text": "rheumatoid arthritis", "start_char": ents[4].start_char,
             "end_char": ents[4].end_char, "score": 0.97},
        ]},
    ]
    return [doc]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, help="page to shoot (default: a demo page)")
    parser.add_argument("--png", type=Path, required=True, help="screenshot to write")
    parser.add_argument("--chromium", help="Chromium binary (default: $CHROMIUM or on PATH)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1400)
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        sys.stderr.write("No Chromium found: apt-get install chromium, or pass --chromium.\n")
        return 2
    html_path = args.html
    if html_path is None:
        from ..apps.visualize import render_page

        html_path = args.png.with_suffix(".html")
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_page(demo_docs(), title="spacy-biobert demo"), encoding="utf8")
    screenshot(html_path, args.png, chromium=chromium, width=args.width, height=args.height)
    stats = blank_stats(read_png(args.png))
    stats["png"] = str(args.png)
    stats["blank"] = is_blank(stats)
    sys.stdout.write(json.dumps(stats) + "\n")
    return 1 if stats["blank"] else 0


if __name__ == "__main__":
    sys.exit(main())
