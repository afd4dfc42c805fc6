"""Relation extraction: the ``biobert_relation_extractor`` component
(``component``), candidate pairs (``candidates``), entity marking and label
sets (``marking``), the GAD/EU-ADR and ChemProt formats (``binary``,
``chemprot``), the registered corpus readers (``readers``) and scoring
(``scorer``)."""
