"""README.md against project.yml: the command table under "## The project"
names every command and workflow of project.yml, and nothing else, in the
groups (by task) of project.yml."""

import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

import srsly

ROOT = Path(__file__).parent.parent

Groups = List[Tuple[str, List[str]]]


def command_table_groups(readme: str) -> Groups:
    """The rows of the table headed `| command | what it does |`, by group: a
    row whose first cell is `**Title**` opens a group; every other row names
    commands or workflows in its first cell (each in backticks). RETURNS: (title,
    names) per group in order; names before the first group row go under ""."""
    lines = readme.splitlines()
    header = [i for i, line in enumerate(lines) if re.match(r"^\|\s*command\s*\|\s*what it does\s*\|", line)]
    assert len(header) == 1, f"README.md has {len(header)} command tables, expected 1"
    groups: Groups = [("", [])]
    for line in lines[header[0] + 2:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1].strip()
        title = re.fullmatch(r"\*\*([^*]+)\*\*", first)
        if title:
            groups.append((title.group(1).strip(), []))
            continue
        cell_names = re.findall(r"`([^`]+)`", first)
        assert cell_names, f"a command table row names no command: {line[:80]}"
        groups[-1][1].extend(cell_names)
    return [g for g in groups if g[0] or g[1]]


def command_table_names(readme: str) -> List[str]:
    """The names in the first column of the command table, in order."""
    return [name for _, names in command_table_groups(readme) for name in names]


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


def project_yml_groups(text: str) -> Dict[str, Groups]:
    """The groups of project.yml's `commands` and `workflows` sections: a comment
    line `  # ---- Title: more` opens a group named by the text before the first
    `:`, `;` or `(`. RETURNS: {"commands": [(title, names)], "workflows": [...]}."""
    found: Dict[str, Groups] = {}
    section = None
    for line in text.splitlines():
        top = re.match(r"^([a-z_]+):", line)
        if top:
            section = top.group(1) if top.group(1) in ("commands", "workflows") else None
            if section:
                found[section] = []
            continue
        if section is None:
            continue
        header = re.match(r"^  # ---- (.*)$", line)
        name = re.match(r"^  - name: (\S+)", line) if section == "commands" else re.match(r"^  ([a-z0-9-]+):", line)
        if header:
            found[section].append((re.split(r"[:;(]", header.group(1))[0].strip(), []))
        elif name:
            assert found[section], f"project.yml: {name.group(1)} comes before the first `# ----` group of {section}"
            found[section][-1][1].append(name.group(1))
    return found


def check_groups(readme: str, project_text: str) -> List[str]:
    """RETURNS (List[str]): the problems, empty when the table's groups are
    project.yml's command groups, in the same order, each holding the same
    commands, and each workflow sits in the group project.yml's workflows
    section puts it in."""
    table = command_table_groups(readme)
    project = project_yml_groups(project_text)
    titles = [t for t, _ in project["commands"]]
    problems = []
    if [t for t, _ in table] != titles:
        problems.append(f"the README's groups {[t for t, _ in table]} are not project.yml's {titles}")
    workflows = {name for _, names in project["workflows"] for name in names}
    table_groups = dict(table)
    for title, commands in project["commands"]:
        listed = [n for n in table_groups.get(title, []) if n not in workflows]
        if sorted(listed) != sorted(commands):
            problems.append(f"group {title!r}: README lists {sorted(listed)}, project.yml has {sorted(commands)}")
    for title, names in project["workflows"]:
        if title not in titles:
            problems.append(f"project.yml's workflow group {title!r} is no command group")
        for name in names:
            if name not in table_groups.get(title, []):
                problems.append(f"workflow {name} is not in the README's group {title!r}")
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


def test_readme_command_table_groups_follow_project_yml():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    text = (ROOT / "project.yml").read_text(encoding="utf8")
    groups = project_yml_groups(text)
    assert len(groups["commands"]) >= 6 and len(groups["workflows"]) >= 4
    # every command and workflow of project.yml is in exactly one group
    project = srsly.read_yaml(ROOT / "project.yml")
    assert sorted(n for _, names in groups["commands"] for n in names) == sorted(c["name"] for c in project["commands"])
    assert sorted(n for _, names in groups["workflows"] for n in names) == sorted(project["workflows"])
    assert check_groups(readme, text) == []


def test_readme_command_table_group_check_catches_moves():
    """The check itself: a command moved to another group (in the README or in
    project.yml), a workflow in the wrong group and a renamed group are reported."""
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    text = (ROOT / "project.yml").read_text(encoding="utf8")
    # the `clean` row moved from Shared into the last group
    clean_row = next(line for line in readme.splitlines() if line.startswith("| `clean` |"))
    last_row = next(line for line in readme.splitlines() if line.startswith("| `benchmark-pretrain` |"))
    moved = readme.replace(clean_row + "\n", "").replace(last_row + "\n", last_row + "\n" + clean_row + "\n")
    problems = check_groups(moved, text)
    assert len(problems) == 2 and all("clean" in p for p in problems), problems
    # `train-ci` moved in project.yml from NER into the relation group
    lines = text.splitlines(keepends=True)
    start = lines.index("  - name: train-ci\n")
    stop = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  - name:"))
    block = lines[start:stop]
    rest = lines[:start] + lines[stop:]
    at = rest.index("  - name: assets-re\n")
    moved_yml = "".join(rest[:at] + block + rest[at:])
    problems = check_groups(readme, moved_yml)
    assert len(problems) == 2 and all("train-ci" in p for p in problems), problems
    # the `ci` workflow listed under Relation extraction in the README
    ci_row = next(line for line in readme.splitlines() if line.startswith("| `ci` (workflow) |"))
    re_row = next(line for line in readme.splitlines() if line.startswith("| `re` (workflow) |"))
    wf_moved = readme.replace(ci_row + "\n", "").replace(re_row + "\n", re_row + "\n" + ci_row + "\n")
    assert check_groups(wf_moved, text) == ["workflow ci is not in the README's group 'NER'"]
    # a group renamed in project.yml
    renamed = text.replace("  # ---- NER:", "  # ---- Named entities:")
    problems = check_groups(readme, renamed)
    assert any("groups" in p for p in problems) and any("Named entities" in p for p in problems), problems
