"""Writing results: a printed table, JSON and markdown."""

import json
import sys
from pathlib import Path
from typing import Any, Dict, Optional


def write_results(
    results: Dict[str, Any], table: str, output: Optional[Path] = None, markdown: Optional[Path] = None
) -> None:
    """Print a results table and write the results as JSON and the table as
    markdown (each where a path is given; parent folders are created).

    results (Dict[str, Any]): JSON-serialisable results.
    table (str): the markdown table of the results.
    output (Optional[Path]): JSON file.
    markdown (Optional[Path]): markdown file.
    """
    from wasabi import msg

    sys.stdout.write("\n" + table + "\n")
    for path, text in ((output, json.dumps(results, indent=2) + "\n"), (markdown, table)):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf8")
            msg.good(f"Wrote {path}")
