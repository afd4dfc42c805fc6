"""How the long-running commands end on an error: the package's own coded
errors, and files that are missing or cannot be read, as one line and exit 1;
any other error keeps its traceback (it is a bug to report, not a user's
mistake to fix)."""

from contextlib import contextmanager
from typing import Iterator

from wasabi import msg

from ..errors import PACKAGE_PREFIX


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Run the block; an OSError, or a ValueError or RuntimeError whose message
    is one of the package's (``(spacy-biobert) [E....]``), ends the command
    with that message on one line and exit code 1. Others propagate unchanged."""
    try:
        yield
    except OSError as e:
        msg.fail(str(e), exits=1)
    except (ValueError, RuntimeError) as e:
        if PACKAGE_PREFIX not in str(e):
            raise
        msg.fail(str(e), exits=1)
