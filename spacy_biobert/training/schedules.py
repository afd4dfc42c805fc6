"""Learning-rate schedules that follow the data.

The paper's fine-tuning warms the learning rate up over the first 10% of the
steps and decays it linearly to zero at the end of the last epoch. With
thinc's ``warmup_linear.v1`` the total number of steps is a number in the
config, so it goes wrong as soon as the data set or the number of epochs
changes (BC2GM has 2.3x the sentences of NCBI-disease: its rate would hit zero
after 40% of the training). ``spacy-biobert.warmup_linear_epochs.v1`` counts
the training file's sentences (or documents) and works the steps out itself,
through ``${paths.train}``, ``${training.*}`` and ``${corpora.train.*}`` in its
config block; that breaks spaCy's tools that resolve the optimizer alone
(``nlp.create_optimizer()``, ``nlp.resume_training()``) and reads every
training file as IOB. It stays registered, unchanged, for the pipelines that
name it.

``spacy-biobert.warmup_linear_epochs.v2`` takes literals only: the length
(``total_steps``) is written into the config at initialization by the
``[initialize.after_init]`` callback ``spacy-biobert.fit_training_to_data.v1``
(training/callbacks.py), which counts the batches of one epoch of whatever
``[corpora.train]`` reads with the configured batcher; the trained pipeline's
config then carries the number.
"""

import math
from pathlib import Path
from typing import Iterable, Optional, Union

from spacy.util import registry
from thinc.api import constant, warmup_linear

from ..errors import Errors
from ..ner.iob import read_iob_sentences


def count_train_batches(
    path: Union[str, Path], batch_size: int, *, group_documents: bool = False, limit: int = 0
) -> int:
    """Batches in one epoch over an IOB file with fixed-size batches.

    path (Union[str, Path]): the training file.
    batch_size (int): sequences per batch.
    group_documents (bool): count -DOCSTART- documents instead of sentences.
    limit (int): the reader's limit (0 = all).
    RETURNS (int): the number of batches.
    """
    sentences = read_iob_sentences(path)
    if group_documents:
        n = len({s.doc_index for s in sentences})
    else:
        n = sum(1 for _ in sentences)
    if limit:
        n = min(n, limit)
    return max(1, math.ceil(n / batch_size))


@registry.schedules("spacy-biobert.warmup_linear_epochs.v1")
def create_warmup_linear_epochs(
    initial_rate: float,
    train_path: Optional[Path],
    max_epochs: int,
    batch_size: int,
    warmup_ratio: float = 0.1,
    group_documents: bool = False,
    limit: int = 0,
    max_steps: int = 0,
) -> Iterable[float]:
    """Linear warm-up over `warmup_ratio` of the steps, then linear decay to
    zero at the end of `max_epochs` epochs over `train_path`, or at
    `max_steps` if that comes first (as spaCy's training loop stops there).

    initial_rate (float): the peak learning rate.
    train_path (Optional[Path]): the IOB training file (${paths.train}); None
        (a pipeline trained in code) gives a constant rate.
    max_epochs (int): epochs of training (${training.max_epochs}).
    batch_size (int): sequences per batch (${training.batcher.size}).
    warmup_ratio (float): share of the steps spent warming up.
    group_documents (bool): ${corpora.train.group_documents}.
    limit (int): ${corpora.train.limit}.
    max_steps (int): ${training.max_steps}; 0 = no step limit. With
        max_epochs = 0 (no epoch limit) it alone sets the length.
    """
    if max_steps > 0 and max_epochs == 0 and batch_size >= 1 and 0 <= warmup_ratio < 1:
        return warmup_linear(initial_rate, int(warmup_ratio * max_steps), max_steps)
    if max_epochs < 1 or batch_size < 1 or not 0 <= warmup_ratio < 1 or max_steps < 0:
        raise ValueError(
            Errors.E2502.format(
                max_epochs=max_epochs, batch_size=batch_size, warmup_ratio=warmup_ratio
            )
        )
    if train_path is None:
        # nlp.initialize() builds the optimizer from [training] even when a
        # pipeline is set up and trained in code, with no training file:
        # then the rate is constant at initial_rate.
        return constant(initial_rate)
    total = max_epochs * count_train_batches(
        train_path, batch_size, group_documents=group_documents, limit=limit
    )
    if max_steps > 0:
        total = min(total, max_steps)
    return warmup_linear(initial_rate, int(warmup_ratio * total), total)


def warmup_linear_total(
    epoch_batches: Optional[int], max_epochs: int, max_steps: int
) -> Optional[int]:
    """The steps a warm-up + linear decay spans, as v1 works them out:
    `max_epochs` epochs of `epoch_batches` batches, or `max_steps` if that
    comes first (with max_epochs < 1, `max_steps` alone); None when the run's
    length is unknown (no step limit and no epochs, or no training data).
    """
    if max_epochs < 1:
        return max_steps if max_steps > 0 else None
    if not epoch_batches:
        return None
    total = max_epochs * epoch_batches
    return min(total, max_steps) if max_steps > 0 else total


@registry.schedules("spacy-biobert.warmup_linear_epochs.v2")
def create_warmup_linear_epochs_v2(
    initial_rate: float, warmup_ratio: float = 0.1, total_steps: int = 0
) -> Iterable[float]:
    """Linear warm-up over `warmup_ratio` of `total_steps`, then linear decay
    to zero at `total_steps`: v1's schedule from literal settings.

    initial_rate (float): the peak learning rate.
    warmup_ratio (float): share of the steps spent warming up.
    total_steps (int): the run's length in steps. The [initialize.after_init]
        callback spacy-biobert.fit_training_to_data.v1 sets it from the
        training data ([training] max_epochs x batches an epoch, capped by
        max_steps). 0 = not known (a pipeline set up in code): a constant
        rate of initial_rate.
    """
    if total_steps < 0 or not 0 <= warmup_ratio < 1:
        raise ValueError(Errors.E2511.format(total_steps=total_steps, warmup_ratio=warmup_ratio))
    if total_steps == 0:
        return constant(initial_rate)
    return warmup_linear(initial_rate, int(warmup_ratio * total_steps), total_steps)
