import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).parent.parent
# The offline mirror of the data sets; SPACY_BIOBERT_DATA points elsewhere.
SHARED_DATA = Path(os.environ.get("SPACY_BIOBERT_DATA") or ROOT.parent / "shared" / "data")


def data_required() -> bool:
    """In CI (CI=true) or with SPACY_BIOBERT_REQUIRE_DATA=1 a missing mirror fails
    the tests that need it; elsewhere they skip and say why (-rs)."""
    if os.environ.get("SPACY_BIOBERT_REQUIRE_DATA", "").strip() in ("1", "true", "yes"):
        return True
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    parser.addoption(
        "--slow", action="store_true", default=os.environ.get("TEST_SLOW") == "1",
        help="run slow tests (wheel builds in fresh virtual environments)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow or TEST_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """Folder of a 2-layer, 32-wide random BERT (uncased), built offline."""
    from util import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert") / "model")


@pytest.fixture(scope="session")
def ner_dir(tiny_bert, tmp_path_factory):
    """A tiny transformer + biobert_ner pipeline, initialised (not trained), on disk."""
    from util import make_examples, make_ner_nlp

    nlp = make_ner_nlp(tiny_bert)
    nlp.initialize(lambda: make_examples(nlp))
    path = tmp_path_factory.mktemp("annotate") / "nlp"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def trained_ner_dir(tiny_bert, tmp_path_factory):
    """The tiny pipeline overfitted on util.TRAIN_DATA (100 updates), on disk:
    it finds the training sentences' diseases, so tests of what surrounds the
    component (records, offsets) have entities to check."""
    from util import make_examples, make_ner_nlp, overfit

    nlp = make_ner_nlp(tiny_bert)
    overfit(nlp, make_examples(nlp))
    path = tmp_path_factory.mktemp("trained_ner") / "nlp"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def shared_data():
    if not SHARED_DATA.is_dir():
        msg = f"the offline data mirror is not present at {SHARED_DATA} (set SPACY_BIOBERT_DATA)"
        if data_required():
            pytest.fail(msg + "; CI requires it", pytrace=False)
        pytest.skip(msg)
    return SHARED_DATA
