"""README.md against project.yml: the command table under "## The project"
names every command and workflow of project.yml, and nothing else."""

import re
from pathlib import Path
from typing import List, Set

import srsly

ROOT = Path(__file__).parent.parent


def command_table_names(readme: str) -> List[str]:
    """The names in the first column of the table headed `| command | what it
    does |` (a cell may name several, each in backticks), in order."""
    lines = readme.splitlines()
    header = [i for i, line in enumerate(lines) if re.match(r"^\|\s*command\s*\|\s*what it does\s*\|", line)]
    assert len(header) == 1, f"README.md has {len(header)} command tables, expected 1"
    names: List[str] = []
    for line in lines[header[0] + 2:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1]
        cell_names = re.findall(r"`([^`]+)`", first)
        assert cell_names, f"a command table row names no command: {line[:80]}"
        names += cell_names
    return names


def project_names(project: dict) -> Set[str]:
    return {c["name"] for c in project.get("commands", [])} | set(project.get("workflows", {}))


def check_table(readme: str, project: dict) -> List[str]:
    """RETURNS (List[str]): the problems, empty when the table is complete."""
    listed = command_table_names(readme)
    wanted = project_names(project)
    problems = [f"missing from the README's command table: {n}" for n in sorted(wanted - set(listed))]
    problems += [f"in the README's command table but not in project.yml: {n}" for n in sorted(set(listed) - wanted)]
    problems += [f"listed twice: {n}" for n in sorted({n for n in listed if listed.count(n) > 1})]
    return problems


def test_readme_command_table_matches_project_yml():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    project = srsly.read_yaml(ROOT / "project.yml")
    assert len(project_names(project)) > 30
    assert check_table(readme, project) == []


def test_readme_command_table_check_catches_gaps():
    """The check itself: a command or workflow added to project.yml, or a row
    for a name that is not there, is reported."""
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    project = srsly.read_yaml(ROOT / "project.yml")
    extra_cmd = dict(project, commands=project["commands"] + [{"name": "train-new", "script": ["true"]}])
    assert check_table(readme, extra_cmd) == ["missing from the README's command table: train-new"]
    extra_wf = dict(project, workflows={**project["workflows"], "new-ci": ["assets"]})
    assert check_table(readme, extra_wf) == ["missing from the README's command table: new-ci"]
    fewer = dict(project, commands=[c for c in project["commands"] if c["name"] != "clean"])
    assert check_table(readme, fewer) == ["in the README's command table but not in project.yml: clean"]
