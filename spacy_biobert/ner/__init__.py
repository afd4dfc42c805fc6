"""Named entity recognition: the ``biobert_ner`` component (``component``),
IOB2 tags (``tags``), the IOB file format (``iob``), the registered corpus
reader (``readers``) and seqeval scoring (``scorer``)."""
