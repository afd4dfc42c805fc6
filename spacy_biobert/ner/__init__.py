"""Named entity recognition: the ``biobert_ner`` component (``component``),
IOB2 tags (``tags``), the IOB file format (``iob``), the registered IOB corpus
reader (``readers``), seqeval scoring (``scorer``), and the other corpus
formats: CoNLL columns (``conll``), PubTator (``pubtator``), BioC XML/JSON
(``bioc``), BRAT standoff (``brat``), offsets -> tokens (``offsets``) and the
reader for any of them, NERCorpus.v1 (``corpus``)."""
