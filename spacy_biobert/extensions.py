"""Names of the custom attributes spacy-biobert sets, and their installation.

``Span._.confidence`` (float or None): the confidence of a predicted entity,
set by ``biobert_ner``.

``Doc._.relations`` (list of dicts, or None when never set): the relations
found by ``biobert_relation_extractor`` (see its module docstring for the
record schema); reference docs carry the gold relations in the same form.

``Doc._.questions`` (list of str, or None): the questions ``biobert_qa`` answers
about the doc's text (the passage). ``Doc._.answers`` (list of dicts, or None
when never set): its answers, one record per question, in question order
(schema in ``spacy_biobert.qa.component``).

All are plain data stored in ``doc.user_data``, so they survive
``DocBin(store_user_data=True)``, ``doc.to_bytes()`` and ``nlp.pipe(n_process=2)``.
Those read msgpack back with every list as a tuple; the three ``Doc._``
attributes give them back as the components set them (lists, with the dicts
in them), so a round-tripped doc's values equal the originals: the first read
after the round trip turns the tuples into lists, in place.
"""

from typing import Any, Callable, Tuple

from spacy.tokens import Doc, Span

ENT_CONFIDENCE_ATTR = "confidence"
RELATIONS_ATTR = "relations"
QUESTIONS_ATTR = "questions"
ANSWERS_ATTR = "answers"


def install_extensions(
    confidence_attr: str = ENT_CONFIDENCE_ATTR,
    *,
    relations_attr: str = RELATIONS_ATTR,
    questions_attr: str = QUESTIONS_ATTR,
    answers_attr: str = ANSWERS_ATTR,
) -> None:
    """Install the custom attributes. Idempotent; never overwrites an attribute
    that another package registered under the same name.

    confidence_attr (str): name of the ``Span._`` attribute for entity confidence.
    relations_attr (str): name of the ``Doc._`` attribute for relations. Its
        default is None, not a list: a shared mutable default would leak
        relations between docs; the relation extractor sets a fresh list.
        The three Doc attributes have a getter and a setter over the plain
        attribute's ``doc.user_data`` key (see the module docstring).
    questions_attr (str): name of the ``Doc._`` attribute for QA questions.
    answers_attr (str): name of the ``Doc._`` attribute for QA answers.
    """
    if not Span.has_extension(confidence_attr):
        Span.set_extension(confidence_attr, default=None)
    for name in (relations_attr, questions_attr, answers_attr):
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=_plain_getter(name), setter=_plain_setter(name))


def as_lists(value: Any) -> Any:
    """`value` with every tuple in it (at any depth, dict values included) a list."""
    if isinstance(value, (tuple, list)):
        return [as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    return value


def _key(name: str) -> Tuple[str, str, None, None]:
    # the key of a plain (default=...) Doc extension: docs saved while the
    # attributes were plain ones read the same
    return ("._.", name, None, None)


def _plain_getter(name: str) -> Callable[[Doc], Any]:
    key = _key(name)

    def get(doc: Doc) -> Any:
        value = doc.user_data.get(key)
        if isinstance(value, tuple):  # read back from msgpack (DocBin, to_bytes)
            value = doc.user_data[key] = as_lists(value)
        return value

    return get


def _plain_setter(name: str) -> Callable[[Doc, Any], None]:
    key = _key(name)

    def set_value(doc: Doc, value: Any) -> None:
        doc.user_data[key] = value

    return set_value
