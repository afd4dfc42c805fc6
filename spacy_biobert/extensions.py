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
"""

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
    questions_attr (str): name of the ``Doc._`` attribute for QA questions.
    answers_attr (str): name of the ``Doc._`` attribute for QA answers.
    """
    if not Span.has_extension(confidence_attr):
        Span.set_extension(confidence_attr, default=None)
    if not Doc.has_extension(relations_attr):
        Doc.set_extension(relations_attr, default=None)
    if not Doc.has_extension(questions_attr):
        Doc.set_extension(questions_attr, default=None)
    if not Doc.has_extension(answers_attr):
        Doc.set_extension(answers_attr, default=None)
