"""SQuAD-format question-answering data: SQuAD v1.1 and BioASQ factoid.

``spacy-biobert.SquadCorpus.v1`` reads a SQuAD-format JSON file
(``{"data": [{"paragraphs": [{"context": ..., "qas": [{"id", "question",
"answers": [{"text", "answer_start"}]}]}]}]}``) into one ``Example`` per
passage (paragraph) holding all its questions: ``doc._.questions`` on both
docs, the gold answers in the reference's ``doc._.answers`` (the schema
``biobert_qa`` writes, without scores).

BioASQ's SQuAD-format training files have answers whose ``answer_start`` is
off, mostly by letter case (PROTOCOL, data README). Every answer is checked
against its passage: an answer found at its offset is kept; one found
elsewhere with the same case is re-located to the occurrence nearest its
offset; one found only case-insensitively is re-located likewise (to the
passage's own spelling); one not found at all is dropped. A question left
without answers is dropped (``drop_unanswerable``), as the paper drops
questions whose answer is not in the passage. ``read_squad`` returns the
counts (``SquadStats``); the reader logs them, and ``spacy-biobert qa-stats``
prints them.
"""

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

from ..errors import Errors
from ..extensions import ANSWERS_ATTR, QUESTIONS_ATTR, install_extensions
from ..text_files import read_utf8

logger = logging.getLogger("spacy_biobert")


@dataclass
class SquadStats:
    """What reading a SQuAD-format file kept, re-located and dropped."""

    path: str = ""
    n_passages: int = 0
    n_questions: int = 0
    n_answers: int = 0
    n_relocated_offset: int = 0
    n_relocated_case: int = 0
    n_dropped_answers: int = 0
    n_dropped_questions: int = 0
    n_kept_questions: int = 0
    dropped_ids: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.path}: {self.n_passages} passages, {self.n_questions} questions, "
            f"{self.n_answers} answers; re-located {self.n_relocated_case} (letter case) + "
            f"{self.n_relocated_offset} (offset only) answers; dropped "
            f"{self.n_dropped_answers} answers not in their passage and "
            f"{self.n_dropped_questions} questions left without an answer; kept "
            f"{self.n_kept_questions} questions."
        )


@dataclass
class SquadPassage:
    """A passage and its questions, with gold answers as character spans."""

    context: str
    questions: List[str]
    ids: List[str]
    # per question: [{"text", "start_char", "end_char"}, ...]
    answers: List[List[Dict[str, Any]]]


def load_squad_json(path: Union[str, Path]) -> List[Dict[str, Any]]:
    """The "data" list of a SQuAD-format file, with clear errors."""
    path = Path(path)
    if not path.exists():
        raise ValueError(Errors.E2001.format(path=path))
    try:
        content = json.loads(read_utf8(path))
    except json.JSONDecodeError as e:
        raise ValueError(Errors.E2401.format(path=path, err=e)) from None
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise ValueError(Errors.E2402.format(path=path, where="at the top level", why="expected an object with a 'data' list"))
    return content["data"]


def iter_squad_entries(path: Union[str, Path]) -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    """(where, context, qa) for every question of a SQuAD-format file, checked
    for the keys every entry needs (answers are optional: test files have none)."""
    path = Path(path)
    for i, article in enumerate(load_squad_json(path)):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise ValueError(Errors.E2402.format(path=path, where=f"data[{i}]", why="no 'paragraphs' list"))
        for j, paragraph in enumerate(paragraphs):
            where = f"data[{i}].paragraphs[{j}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise ValueError(Errors.E2402.format(path=path, where=where, why="no 'context' string"))
            qas = paragraph.get("qas")
            if not isinstance(qas, list):
                raise ValueError(Errors.E2402.format(path=path, where=where, why="no 'qas' list"))
            for k, qa in enumerate(qas):
                qa_where = f"{where}.qas[{k}]" + (f" (id {qa.get('id')!r})" if isinstance(qa, dict) and qa.get("id") else "")
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
                    raise ValueError(Errors.E2402.format(path=path, where=qa_where, why="no 'question' string"))
                for answer in qa.get("answers") or []:
                    if not (isinstance(answer, dict) and isinstance(answer.get("text"), str)
                            and isinstance(answer.get("answer_start"), int)):
                        raise ValueError(Errors.E2402.format(path=path, where=qa_where, why=f"answer {answer!r} needs 'text' (str) and 'answer_start' (int)"))
                yield qa_where, paragraph["context"], qa


def locate_answer(context: str, text: str, start: int) -> Tuple[Optional[int], str]:
    """Find an answer in its passage.

    RETURNS (Tuple[Optional[int], str]): the start offset (None if not found)
        and how: "exact", "offset" (same case, elsewhere), "case" (found
        case-insensitively) or "missing".
    """
    if not text:
        return None, "missing"
    if context[start:start + len(text)] == text:
        return start, "exact"
    for how, flags in (("offset", 0), ("case", re.IGNORECASE)):
        found = [m.start() for m in re.finditer(re.escape(text), context, flags)]
        if found:
            return min(found, key=lambda s: (abs(s - start), s)), how
    return None, "missing"


def read_squad(
    path: Union[str, Path], *, drop_unanswerable: bool = True
) -> Tuple[List[SquadPassage], SquadStats]:
    """Read a SQuAD-format file, re-locating misplaced answers (see the module
    docstring).

    drop_unanswerable (bool): drop questions left without an answer.
    RETURNS (Tuple[List[SquadPassage], SquadStats]): the passages (with at
        least one question) and the counts.
    """
    stats = SquadStats(path=str(path))
    passages: Dict[str, SquadPassage] = {}
    for where, context, qa in iter_squad_entries(path):
        key = where.split(".qas[")[0]
        if key not in passages:
            passages[key] = SquadPassage(context, [], [], [])
            stats.n_passages += 1
        stats.n_questions += 1
        answers = []
        seen = set()
        for answer in qa.get("answers") or []:
            stats.n_answers += 1
            text = answer["text"]
            start, how = locate_answer(context, text, answer["answer_start"])
            if start is None:
                stats.n_dropped_answers += 1
                continue
            if how == "offset":
                stats.n_relocated_offset += 1
            elif how == "case":
                stats.n_relocated_case += 1
            end = start + len(text)
            if (start, end) in seen:
                continue
            seen.add((start, end))
            answers.append({"text": context[start:end], "start_char": start, "end_char": end})
        if not answers and drop_unanswerable:
            stats.n_dropped_questions += 1
            stats.dropped_ids.append(str(qa.get("id", where)))
            continue
        passage = passages[key]
        passage.questions.append(qa["question"])
        passage.ids.append(str(qa.get("id", where)))
        passage.answers.append(answers)
        stats.n_kept_questions += 1
    return [p for p in passages.values() if p.questions], stats


def passage_to_example(
    nlp: Language, passage: SquadPassage, *,
    questions_attr: str = QUESTIONS_ATTR, answers_attr: str = ANSWERS_ATTR,
) -> Example:
    """One Example: the passage with its questions, gold answers on the reference."""
    install_extensions(questions_attr=questions_attr, answers_attr=answers_attr)
    predicted = nlp.make_doc(passage.context)
    reference = nlp.make_doc(passage.context)
    predicted._.set(questions_attr, list(passage.questions))
    reference._.set(questions_attr, list(passage.questions))
    reference._.set(answers_attr, [
        {"question": q, "answers": [dict(a) for a in answers]}
        for q, answers in zip(passage.questions, passage.answers)
    ])
    return Example(predicted, reference)


@registry.readers("spacy-biobert.SquadCorpus.v1")
def create_squad_corpus(
    path: Optional[Path],
    limit: int = 0,
    drop_unanswerable: bool = True,
    questions_attr: str = QUESTIONS_ATTR,
    answers_attr: str = ANSWERS_ATTR,
) -> Callable[[Language], Iterable[Example]]:
    """Reader of a SQuAD-format JSON file (SQuAD v1.1, BioASQ factoid in
    SQuAD format): one Example per passage with all its questions.

    path (Path): the JSON file.
    limit (int): at most this many passages (0: all), e.g. for a quick run.
    drop_unanswerable (bool): drop questions whose answer is not in the passage.
    questions_attr (str): the Doc._ attribute for the questions.
    answers_attr (str): the Doc._ attribute for the gold answers.
    RETURNS (Callable[[Language], Iterable[Example]]): the corpus.
    """
    if path is None:
        raise ValueError(Errors.E2001.format(path=path))
    path = Path(path)
    if not path.exists():
        raise ValueError(Errors.E2001.format(path=path))

    def corpus(nlp: Language) -> Iterator[Example]:
        passages, stats = read_squad(path, drop_unanswerable=drop_unanswerable)
        logger.info(stats.summary())
        if limit > 0:
            passages = passages[:limit]
        for passage in passages:
            yield passage_to_example(nlp, passage, questions_attr=questions_attr, answers_attr=answers_attr)

    return corpus
