"""Training callbacks: check the base model before any weights load; fit the
run's schedule and evaluations to the training data; never keep the untrained
step-0 evaluation as model-best."""

import functools
import random
from typing import Any, Callable, Dict, Optional

import numpy
from spacy.util import registry, resolve_dot_names
from wasabi import msg

from ..base_model import check_base_model
from ..errors import Errors
from .schedules import warmup_linear_total

SCHEDULE_V2 = "spacy-biobert.warmup_linear_epochs.v2"
# the score key spacy-biobert.no_untrained_best.v1 adds to every evaluation
UNTRAINED_KEY = "untrained"


@registry.callbacks("spacy-biobert.check_base_model.v1")
def create_check_base_model() -> Callable[[Any], Any]:
    """[initialize.before_init] callback: before any weights are loaded, check
    that every transformer's base model exists (local folder or hub), and fail
    with a clear message if not.
    """

    def check(nlp: Any) -> Any:
        for _, pipe in nlp.pipeline:
            model = getattr(pipe, "model", None)
            name = model.attrs.get("name") if model is not None else None
            if isinstance(name, str) and not model.attrs.get("has_transformer", False):
                check_base_model(name)
        return nlp

    return check


def count_epoch_batches(nlp: Any, config: Dict[str, Any]) -> Optional[int]:
    """Batches in one epoch over the training corpus of an interpolated
    config: whatever [corpora.train] reads, batched by [training.batcher].
    None when there is no training data (a `path` of None: a pipeline set up
    in code). The global random state is left as it was.
    """
    training = config["training"]
    corpus_block = config
    for part in str(training["train_corpus"]).split("."):
        corpus_block = corpus_block.get(part, {}) if isinstance(corpus_block, dict) else {}
    if not corpus_block or ("path" in corpus_block and corpus_block["path"] is None):
        return None
    (corpus,) = resolve_dot_names(config, [training["train_corpus"]])
    batcher = registry.resolve({"batcher": training["batcher"]})["batcher"]
    py_state, np_state = random.getstate(), numpy.random.get_state()
    try:
        examples = list(corpus(nlp))
        return sum(1 for _ in batcher(examples)) if examples else None
    finally:
        random.setstate(py_state)
        numpy.random.set_state(np_state)


def fit_training_to_data(nlp: Any, evaluations: int = 3) -> Dict[str, Optional[int]]:
    """Work out the run's length from the training data and write it into
    nlp.config, which `spacy train` resolves [training] from after
    initialization: `total_steps` of a spacy-biobert.warmup_linear_epochs.v2
    learning rate (v1's count: max_epochs x batches an epoch, capped by
    max_steps), and eval_frequency = min(configured, max(1, last step //
    evaluations)), so that a run is scored at least `evaluations` times after
    step 0 whatever its size (0 = keep the configured frequency).

    RETURNS (dict): total_steps, eval_frequency (None: left as configured).
    """
    config = nlp.config.interpolate()
    training = config["training"]
    max_epochs, max_steps = int(training["max_epochs"]), int(training["max_steps"])
    batches = count_epoch_batches(nlp, config) if max_epochs >= 1 else None
    total = warmup_linear_total(batches, max_epochs, max_steps)
    done: Dict[str, Optional[int]] = {"total_steps": None, "eval_frequency": None}
    if total is None:
        return done
    raw = nlp.config
    learn_rate = raw["training"].get("optimizer", {}).get("learn_rate")
    if isinstance(learn_rate, dict) and learn_rate.get("@schedules") == SCHEDULE_V2:
        learn_rate["total_steps"] = total
        done["total_steps"] = total
    elif isinstance(learn_rate, dict):
        # another schedule (qa.cfg: thinc's warmup_linear.v1 with total_steps =
        # ${training.max_steps}): its references become the numbers they stand
        # for, the same for this run, resolvable alone afterwards
        resolved = config["training"]["optimizer"]["learn_rate"]
        for key, value in list(learn_rate.items()):
            if isinstance(value, str) and "${" in value:
                learn_rate[key] = resolved[key]
    if evaluations > 0:
        # spaCy runs steps 0..max_steps (max_steps + 1 updates) when that
        # limit comes first, 0..total - 1 otherwise
        if max_epochs >= 1 and batches:
            epochs_last = max_epochs * batches - 1
            last = min(epochs_last, max_steps) if max_steps > 0 else epochs_last
        else:
            last = max_steps
        configured = int(training["eval_frequency"])
        frequency = min(configured, max(1, last // evaluations))
        raw["training"]["eval_frequency"] = frequency
        done["eval_frequency"] = frequency
    nlp.config = raw
    return done


@registry.callbacks("spacy-biobert.fit_training_to_data.v1")
def create_fit_training_to_data(evaluations: int = 3) -> Callable[[Any], Any]:
    """[initialize.after_init] callback: count the training data once and set
    the run's schedule length ([training.optimizer.learn_rate] total_steps of
    spacy-biobert.warmup_linear_epochs.v2) and evaluation frequency
    ([training] eval_frequency, lowered so that a run is evaluated at least
    `evaluations` times after step 0; 0 = as configured). The trained
    pipeline's config keeps the numbers, as literals.

    evaluations (int): evaluations after step 0 a run gets at least.
    """
    if evaluations < 0:
        raise ValueError(Errors.E2512.format(evaluations=evaluations))

    def after_init(nlp: Any) -> Any:
        done = fit_training_to_data(nlp, evaluations)
        if done["total_steps"] is not None or done["eval_frequency"] is not None:
            msg.info(
                f"Training length from the data: {done['total_steps'] or 'as configured'} "
                f"steps, evaluation every {done['eval_frequency'] or 'configured'} steps"
            )
        return nlp

    return after_init


@registry.callbacks("spacy-biobert.no_untrained_best.v1")
def create_no_untrained_best(min_step: int = 1) -> Callable[[Any, Dict[str, Any]], None]:
    """[training.before_update] callback: every evaluation of the run gets a
    score `untrained`: 1.0 before step `min_step` (spaCy scores step 0 after
    one update at the warm-up's learning rate of 0.0: the initial weights),
    0.0 from then on. With the score weight `untrained = -1.0` beside weights
    that sum to 1 in [training.score_weights], a step-0 score is at most 0
    and every later one at least 0; spaCy takes ties for the later step, so
    an evaluation after step 0 always replaces the step-0 model-best.

    min_step (int): the first step whose evaluation counts as trained.
    """
    state = {"step": 0}

    def before_update(nlp: Any, info: Dict[str, Any]) -> None:
        state["step"] = int(info["step"])
        evaluate = nlp.evaluate
        if getattr(evaluate, "_spacy_biobert_state", None) is state:
            return
        original = getattr(evaluate, "__wrapped__", evaluate)

        @functools.wraps(original)
        def scored(*args: Any, **kwargs: Any) -> Dict[str, Any]:
            scores = original(*args, **kwargs)
            scores[UNTRAINED_KEY] = 1.0 if state["step"] < min_step else 0.0
            return scores

        scored._spacy_biobert_state = state  # type: ignore[attr-defined]
        # the training loop's evaluation callback calls nlp.evaluate: an
        # attribute on this nlp object, not a change to Language
        nlp.evaluate = scored

    return before_update
