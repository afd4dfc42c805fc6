"""Names of the custom attributes spacy-biobert sets, and their installation.

``Span._.confidence`` (float or None): the confidence of a predicted entity,
set by ``biobert_ner``. It is stored in ``doc.user_data``, so it survives
``DocBin(store_user_data=True)``, ``doc.to_bytes()`` and ``nlp.pipe(n_process=2)``.
"""

from spacy.tokens import Span

ENT_CONFIDENCE_ATTR = "confidence"


def install_extensions(confidence_attr: str = ENT_CONFIDENCE_ATTR) -> None:
    """Install the custom attributes. Idempotent; never overwrites an attribute
    that another package registered under the same name.

    confidence_attr (str): name of the ``Span._`` attribute for entity confidence.
    """
    if not Span.has_extension(confidence_attr):
        Span.set_extension(confidence_attr, default=None)
