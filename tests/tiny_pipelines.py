"""Tiny trained relation and QA pipelines on a tiny random BERT, for the tests
that need real predictions (annotate, visualize, custom attribute names).

Each trainer overfits a handful of hand-made examples and checks that the
pipeline then predicts them; the tests build on that."""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

# fmt: off
# words, entities (start, end, label), relations (head index, tail index, label)
REL_DATA = [
    ("aspirin inhibits cox1 .".split(),
     [(0, 1, "CHEMICAL"), (2, 3, "GENE")], [(0, 1, "INHIBITOR")]),
    ("caffeine activates ryr1 .".split(),
     [(0, 1, "CHEMICAL"), (2, 3, "GENE")], [(0, 1, "ACTIVATOR")]),
    ("water and gene5 were observed .".split(),
     [(0, 1, "CHEMICAL"), (2, 3, "GENE")], []),
    ("aspirin inhibits cox1 but caffeine activates ryr1 .".split(),
     [(0, 1, "CHEMICAL"), (2, 3, "GENE"), (4, 5, "CHEMICAL"), (6, 7, "GENE")],
     [(0, 1, "INHIBITOR"), (2, 3, "ACTIVATOR")]),
]
REL_WORDS = ["aspirin", "caffeine", "water", "inhibits", "activates", "but", "cox1", "ryr1", "gene5"]
# entity_ruler patterns that find REL_DATA's mentions in raw text
RULER_PATTERNS = (
    [{"label": "CHEMICAL", "pattern": w} for w in ("aspirin", "caffeine", "water")]
    + [{"label": "GENE", "pattern": w} for w in ("cox1", "ryr1", "gene5")]
)

QA_PASSAGE = "the apc gene is associated with familial adenomatous polyposis and cancer risk in patients ."
# passage, question, answer
QA_DATA = [
    (QA_PASSAGE, "what is the gene ?", "apc gene"),
    ("women with breast cancer were observed in this study .", "which disease ?", "breast cancer"),
]
# fmt: on


def rel_config(base_model, **extra):
    """A biobert_relation_extractor config on `base_model` (CHEMICAL->GENE pairs);
    `extra` sets further factory settings (`model` is merged into the model block)."""
    cfg = {
        "model": {
            "name": {"@misc": "spacy-biobert.base_model.v1", "name": str(base_model)},
            "tokenizer_config": {
                "@misc": "spacy-biobert.tokenizer_config.v1", "name": str(base_model),
                "use_fast": True, "do_lower_case": True,
            },
        },
        "candidates": {"@misc": "spacy-biobert.sentence_pairs.v1", "type_pairs": ["CHEMICAL->GENE"]},
    }
    for key, value in extra.items():
        if key == "model":
            cfg["model"].update(value)
        else:
            cfg[key] = value
    return cfg


def span_record(span) -> Dict:
    return {
        "start": span.start, "end": span.end, "start_char": span.start_char,
        "end_char": span.end_char, "label": span.label_,
    }


def rel_doc(vocab, words, ents, rels=None, *, relations_attr: str = "relations"):
    """A Doc with `ents`; with `rels`, the gold relations in doc._.<relations_attr>."""
    from spacy.tokens import Doc, Span

    doc = Doc(vocab, words=words)
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
    if rels is not None:
        spans = list(doc.ents)
        doc._.set(relations_attr, [
            {"head": span_record(spans[h]), "tail": span_record(spans[t]), "label": label}
            for h, t, label in rels
        ])
    return doc


def rel_triples(doc, relations_attr: str = "relations") -> List[Tuple[str, str, str]]:
    """(head text, tail text, label) of a doc's predicted relations, sorted."""
    return sorted(
        (doc.text[r["head"]["start_char"]:r["head"]["end_char"]],
         doc.text[r["tail"]["start_char"]:r["tail"]["end_char"]], r["label"])
        for r in doc._.get(relations_attr) or []
    )


def gold_triples(words, ents, rels) -> List[Tuple[str, str, str]]:
    return sorted((words[ents[h][0]], words[ents[t][0]], label) for h, t, label in rels)


def train_relation_nlp(base_model: Path, *, relations_attr: str = "relations", ruler: bool = False,
                       steps: int = 60):
    """biobert_relation_extractor (CHEMICAL->GENE) overfitted on REL_DATA; with
    `ruler`, an entity_ruler in front finds the mentions in raw text."""
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed
    from thinc.api import Adam

    nlp = spacy.blank("en")
    nlp.add_pipe("biobert_relation_extractor", name="relation_extractor",
                 config=rel_config(base_model, relations_attr=relations_attr))
    fix_random_seed(0)
    examples = [
        Example(rel_doc(nlp.vocab, w, e), rel_doc(nlp.vocab, w, e, r, relations_attr=relations_attr))
        for w, e, r in REL_DATA
    ]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.002)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    if ruler:
        nlp.add_pipe("entity_ruler", first=True).add_patterns(RULER_PATTERNS)
    rel = nlp.get_pipe("relation_extractor")
    for w, e, r in REL_DATA:
        doc = rel(rel_doc(nlp.vocab, w, e))
        assert rel_triples(doc, relations_attr) == gold_triples(w, e, r), "the tiny RE did not learn REL_DATA"
    return nlp


def qa_examples(nlp, *, questions_attr: str = "questions", answers_attr: str = "answers"):
    from spacy.training import Example

    examples = []
    for text, question, answer in QA_DATA:
        start = text.index(answer)
        ref = nlp.make_doc(text)
        ref._.set(questions_attr, [question])
        ref._.set(answers_attr, [{"question": question, "answers": [
            {"text": answer, "start_char": start, "end_char": start + len(answer)}]}])
        pred = nlp.make_doc(text)
        pred._.set(questions_attr, [question])
        examples.append(Example(pred, ref))
    return examples


def make_qa_nlp(base_model: Path, **cfg):
    import spacy

    nlp = spacy.blank("en")
    config = {
        "model": {"name": str(base_model), "tokenizer_config": {"name": str(base_model)}, "max_length": 32},
        "doc_stride": 8, "null_answer": False,
    }
    config.update(cfg)
    nlp.add_pipe("biobert_qa", name="qa", config=config)
    return nlp


def train_qa_nlp(base_model: Path, *, steps: int = 40, **cfg):
    """biobert_qa overfitted on QA_DATA (top answer = the gold span)."""
    from spacy.util import fix_random_seed

    fix_random_seed(0)
    nlp = make_qa_nlp(base_model, **cfg)
    pipe = nlp.get_pipe("qa")
    q_attr, a_attr = pipe.cfg["questions_attr"], pipe.cfg["answers_attr"]
    examples = qa_examples(nlp, questions_attr=q_attr, answers_attr=a_attr)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.005
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    for text, question, answer in QA_DATA:
        assert top_answer(nlp, text, question) == answer, "the tiny QA did not learn QA_DATA"
    return nlp


def top_answer(nlp, text: str, question: str, pipe_name: str = "qa") -> Optional[str]:
    pipe = nlp.get_pipe(pipe_name)
    doc = nlp.make_doc(text)
    doc._.set(pipe.cfg["questions_attr"], [question])
    doc = nlp(doc)
    (record,) = doc._.get(pipe.cfg["answers_attr"])
    return record["answers"][0]["text"] if record["answers"] else None
