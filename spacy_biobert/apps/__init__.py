"""Applications built on the pipelines: annotation (local and Ray),
visualisation, continued pre-training, evaluation and the paper's
experiments. The ``cli`` package wraps them as typer commands."""
