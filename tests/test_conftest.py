"""The test suite itself: a missing data mirror fails CI instead of skipping."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

NEEDS_DATA = """
def test_needs_mirror(shared_data):
    assert shared_data.is_dir()
"""


def _run(tmp_path, **env):
    test = tmp_path / "test_needs_mirror.py"
    test.write_text(NEEDS_DATA)
    full = {k: v for k, v in os.environ.items() if k not in ("CI", "SPACY_BIOBERT_REQUIRE_DATA")}
    full.update(env, SPACY_BIOBERT_DATA=str(tmp_path / "no-mirror"))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
           "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
           "--confcutdir", str(ROOT / "tests"), str(test)]
    # the test file must see tests/conftest.py: put it beside a copy of it
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    return subprocess.run(cmd, capture_output=True, text=True, env=full, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("env", [{"CI": "true"}, {"SPACY_BIOBERT_REQUIRE_DATA": "1"}])
def test_missing_mirror_fails_when_required(tmp_path, env):
    out = _run(tmp_path, **env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 error" in out.stdout and "CI requires it" in out.stdout


def test_missing_mirror_skips_with_reason_locally(tmp_path):
    out = _run(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 skipped" in out.stdout and "offline data mirror is not present" in out.stdout


def test_ci_script_requires_the_mirror():
    """.ci/run runs the README's test command with the mirror required."""
    script = (ROOT / ".ci" / "run").read_text()
    assert "SPACY_BIOBERT_REQUIRE_DATA=1" in script
