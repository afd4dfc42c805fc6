"""spacy-biobert: BioBERT (Lee et al., Bioinformatics 2020) for spaCy."""

from ._compat import install_moved_modules
from ._fork import install_fork_guard
from .about import __version__
from .extensions import (
    ANSWERS_ATTR,
    ENT_CONFIDENCE_ATTR,
    QUESTIONS_ATTR,
    RELATIONS_ATTR,
    install_extensions,
)
from .pipeline import (
    BioBertNER,
    QuestionAnswerer,
    RelationExtractor,
    answer_spans,
    make_biobert_ner,
    make_biobert_qa,
    make_biobert_relation_extractor,
    relation_spans,
    set_questions,
)

install_fork_guard()
install_moved_modules()

__all__ = [
    "__version__",
    "BioBertNER",
    "make_biobert_ner",
    "install_extensions",
    "ENT_CONFIDENCE_ATTR",
    "RelationExtractor",
    "make_biobert_relation_extractor",
    "relation_spans",
    "RELATIONS_ATTR",
    "QuestionAnswerer",
    "make_biobert_qa",
    "answer_spans",
    "set_questions",
    "QUESTIONS_ATTR",
    "ANSWERS_ATTR",
]
