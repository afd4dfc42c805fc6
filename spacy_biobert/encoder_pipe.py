"""EncoderPipe: the training contract of the components that own their encoder
(``biobert_relation_extractor``, ``biobert_qa``).

Such a component turns its examples into encoder instances (marked sentences
of candidate pairs; question/passage windows), each with a gold target, and
sends the instances through the encoder in chunks (a batch of documents can
hold far more instances than fit in memory at once). ``update`` is spaCy's
contract, per chunk: ``model.begin_update`` -> ``get_loss`` -> backprop; the
gradients accumulate over the chunks and the optimizer steps once.

A subclass provides:

- ``_truth(examples)``: the instances of the examples' docs and their gold,
  an int array with one row per instance (-1: no target);
- ``_chunk_inputs(instances)``: the model's input for a chunk of instances;
- ``get_loss(examples, scores, *, gold=None, normalizer=None)``: with
  ``gold=None``, ``scores`` is ``predict``'s output for the examples'
  predicted docs (the public spaCy call); in ``update`` it is one chunk's
  model output, ``gold`` that chunk's ``(instances, gold)`` and
  ``normalizer`` the number of targets of the whole batch.
- ``chunk_size_key``: the cfg setting holding the instances per encoder call.
"""

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.pipeline import TrainablePipe
from spacy.training import Example, validate_examples
from thinc.api import Model, Optimizer, set_dropout_rate


class EncoderPipe(TrainablePipe):
    """A TrainablePipe whose model owns its encoder and is updated in chunks
    of instances (see the module docstring)."""

    chunk_size_key = "batch_size"

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of Examples: the instances go through the encoder
        in chunks of cfg[chunk_size_key]; each chunk's loss (get_loss,
        normalised over the whole batch) is backpropagated, the gradients
        accumulate over the chunks and the optimizer steps once.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        instances, gold = self._truth(examples)
        n = int((gold >= 0).sum())
        if n == 0:
            return losses
        set_dropout_rate(self.model, drop)
        size = self.cfg[self.chunk_size_key]
        loss = 0.0
        for start in range(0, len(instances), size):
            chunk = instances[start:start + size]
            chunk_gold = gold[start:start + size]
            if not (chunk_gold >= 0).any():
                continue
            scores, backprop = self.model.begin_update(self._chunk_inputs(chunk))
            chunk_loss, d_scores = self.get_loss(examples, scores, gold=(chunk, chunk_gold), normalizer=n)
            loss += chunk_loss
            backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def _encoder(self) -> Model:
        """The component's encoder (the model's "encoder" ref, else its first layer)."""
        return self.model.get_ref("encoder") if self.model.has_ref("encoder") else self.model.layers[0]

    def _truth(self, examples: List[Example]) -> Tuple[Sequence[Any], numpy.ndarray]:
        raise NotImplementedError

    def _chunk_inputs(self, instances: Sequence[Any]) -> Any:
        raise NotImplementedError
