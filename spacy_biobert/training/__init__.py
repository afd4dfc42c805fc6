"""Training helpers registered for spaCy configs: batchers, learning-rate
schedules and callbacks."""
