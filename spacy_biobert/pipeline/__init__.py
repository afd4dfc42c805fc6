from ..ner.component import BioBertNER, make_biobert_ner
from ..qa.component import (
    QuestionAnswerer,
    answer_spans,
    make_biobert_qa,
    set_questions,
)
from ..relations.component import (
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
    "QuestionAnswerer",
    "make_biobert_qa",
    "answer_spans",
    "set_questions",
]
