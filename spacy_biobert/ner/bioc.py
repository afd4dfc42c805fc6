"""BioC XML and BioC JSON (BioCreative tasks, PubTator3 BioC exports).

A collection holds documents; a document holds passages, each with an
``offset`` (its place in the document) and a ``text``; annotations (in a
passage or in the document) have an infon ``type`` and one or more
``location``s (``offset``, ``length``, in document coordinates). The document
text is rebuilt with each passage at its offset (gaps filled with spaces), so
the annotation offsets index it directly. An annotation with several
locations (discontinuous) gives one mention per location.

XML is parsed with the standard library with entity declarations refused (no
internal or external entity expansion); the ``bioc`` package is not needed.
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union
from xml.parsers import expat

from ..errors import Errors
from ..text_files import read_utf8
from .offsets import OffsetDocument

TYPE_KEYS = ("type", "Type", "entity_type", "class")


def _type(infons: Dict[str, str]) -> str:
    for key in TYPE_KEYS:
        if infons.get(key):
            return infons[key]
    return ""


def _text(path: Path, fmt: str, doc_id: str, passages: List[Tuple[int, str]]) -> str:
    text = ""
    for offset, ptext in sorted(passages, key=lambda p: p[0]):
        if offset < len(text):
            raise ValueError(Errors.E2211.format(
                path=path, fmt=fmt,
                err=f"document {doc_id!r}: a passage at offset {offset} overlaps the one before it",
            ))
        text += " " * (offset - len(text)) + ptext
    return text


def _document(
    path: Path, fmt: str, doc_id: str, passages: List[Tuple[int, str]],
    annotations: List[Tuple[str, List[Tuple[int, int]]]], counts: Dict[str, int],
) -> OffsetDocument:
    mentions = []
    for label, locations in annotations:
        if len(locations) > 1:
            counts["discontinuous"] += 1
        for offset, length in locations:
            mentions.append((offset, offset + length, label))
    return OffsetDocument(doc_id, _text(path, fmt, doc_id, passages), mentions)


def _parse_xml(data: bytes) -> ET.Element:
    """The root element, after a first pass with expat that refuses any entity
    declaration or external entity reference (no expansion attacks, no file or
    network access)."""

    def refuse(*args: Any) -> int:
        raise ValueError("entity declarations and external entities are not allowed")

    check = expat.ParserCreate()
    check.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    check.EntityDeclHandler = refuse
    check.UnparsedEntityDeclHandler = refuse
    check.ExternalEntityRefHandler = refuse
    check.Parse(data, True)
    return ET.fromstring(data)


def _int(path: Path, fmt: str, value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(Errors.E2211.format(path=path, fmt=fmt, err=f"{what} is {value!r}, not an integer")) from None


def read_bioc_xml(path: Union[str, Path], counts: Optional[Dict[str, int]] = None) -> Iterator[OffsetDocument]:
    """The documents of a BioC XML file.

    counts (Optional[Dict[str, int]]): gets "discontinuous" (annotations with
        several locations).
    """
    path = Path(path)
    fmt = "BioC XML"
    counts = counts if counts is not None else {"discontinuous": 0}
    counts.setdefault("discontinuous", 0)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    try:
        root = _parse_xml(path.read_bytes())
    except (ET.ParseError, expat.ExpatError, ValueError) as err:
        raise ValueError(Errors.E2211.format(path=path, fmt=fmt, err=err)) from None
    if root.tag != "collection":
        raise ValueError(Errors.E2211.format(path=path, fmt=fmt, err=f"the root element is <{root.tag}>, not <collection>"))

    def annotations(parent: ET.Element) -> List[Tuple[str, List[Tuple[int, int]]]]:
        out = []
        for ann in parent.findall("annotation"):
            infons = {i.get("key", ""): (i.text or "") for i in ann.findall("infon")}
            locs = [
                (_int(path, fmt, loc.get("offset"), "a location offset"),
                 _int(path, fmt, loc.get("length"), "a location length"))
                for loc in ann.findall("location")
            ]
            out.append((_type(infons), locs))
        return out

    for n, doc in enumerate(root.findall("document")):
        doc_id = (doc.findtext("id") or str(n)).strip()
        passages, anns = [], annotations(doc)
        for passage in doc.findall("passage"):
            offset = _int(path, fmt, passage.findtext("offset", "0"), "a passage offset")
            passages.append((offset, passage.findtext("text") or ""))
            anns.extend(annotations(passage))
        yield _document(path, fmt, doc_id, passages, anns, counts)


def read_bioc_json(path: Union[str, Path], counts: Optional[Dict[str, int]] = None) -> Iterator[OffsetDocument]:
    """The documents of a BioC JSON file: a collection ({"documents": [...]}),
    a list of documents, or one document."""
    path = Path(path)
    fmt = "BioC JSON"
    counts = counts if counts is not None else {"discontinuous": 0}
    counts.setdefault("discontinuous", 0)
    if not path.exists():
        raise FileNotFoundError(Errors.E2001.format(path=path))
    try:
        data = json.loads(read_utf8(path))
    except json.JSONDecodeError as err:
        raise ValueError(Errors.E2211.format(path=path, fmt=fmt, err=err)) from None
    if isinstance(data, dict) and "documents" in data:
        data = data["documents"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValueError(Errors.E2211.format(path=path, fmt=fmt, err="expected a collection with 'documents', a list of documents or one document"))

    def annotations(parent: Dict[str, Any]) -> List[Tuple[str, List[Tuple[int, int]]]]:
        out = []
        for ann in parent.get("annotations") or []:
            locs = [
                (_int(path, fmt, loc.get("offset"), "a location offset"),
                 _int(path, fmt, loc.get("length"), "a location length"))
                for loc in ann.get("locations") or []
            ]
            out.append((_type(ann.get("infons") or {}), locs))
        return out

    for n, doc in enumerate(data):
        doc_id = str(doc.get("id", n))
        passages, anns = [], annotations(doc)
        for passage in doc.get("passages") or []:
            passages.append((_int(path, fmt, passage.get("offset", 0), "a passage offset"), passage.get("text") or ""))
            anns.extend(annotations(passage))
        yield _document(path, fmt, doc_id, passages, anns, counts)
