from .ner import BioBertNER, make_biobert_ner

__all__ = ["BioBertNER", "make_biobert_ner"]
