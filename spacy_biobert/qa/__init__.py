"""Question answering: the ``biobert_qa`` component (``component``), passage
windows (``windows``), answer decoding as run_squad does it (``decoding``),
the SQuAD/BioASQ format and reader (``squad``), SQuAD scoring (``scorer``)
and BioASQ factoid scoring (``bioasq``)."""
