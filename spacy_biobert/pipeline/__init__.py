from .ner import BioBertNER, make_biobert_ner
from .relation_extractor import (
    RelationExtractor,
    make_biobert_relation_extractor,
    relation_spans,
)

__all__ = [
    "BioBertNER",
    "make_biobert_ner",
    "RelationExtractor",
    "make_biobert_relation_extractor",
    "relation_spans",
]
