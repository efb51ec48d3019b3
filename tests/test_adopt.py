"""Taking over a repository that already has rules (SPEC §3.7, the audit log): what rulesync
adopts, adds and replaces is said the same way on the console and in the commit, on real git
repositories built like the ones teams have (their own `.cursor/rules` with nested folders,
an AGENTS.md of their own, CLAUDE.md as `@AGENTS.md` or a symlink to it, their own
`.claude/rules` and a `copilot-instructions.md`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from support.counts import body_counts, console_counts, subject_counts
from support.repos import git, make_repo, rule_text, rulesync, rulesync_commits

RULES = ".cursor/rules"
USER_AGENTS = "# Agents\n\nRun `make check` before pushing. Keep this text.\n"
USER_COPILOT = "Prefer small functions. Our own words.\n"
# The repository's own rules, as teams write them: nested folders, list globs, an empty
# body, front matter that is not strict YAML.
OWN_RULES = {
    "general.mdc": rule_text("house style", "Write clear code.", always=True),
    "backend/api.mdc": (
        "---\ndescription: API rules\nglobs: src/api/**/*.py\n---\nValidate input.\n"
    ),
    "frontend/react/components.mdc": (
        "---\ndescription: components\nglobs: ['src/**/*.tsx', 'src/**/*.jsx']\n---\nSmall ones.\n"
    ),
    "empty.mdc": "---\ndescription: nothing yet\nglobs:\nalwaysApply: false\n---\n",
}
OWN_CLAUDE = {"house.md": "# House\n\nOur Claude rule.\n"}


def make_team_repo(path: Path, *, claude_link: bool = False, clash: bool = False) -> Path:
    """A repository built like the real ones: own rules, AGENTS.md with the team's text,
    CLAUDE.md pointing at it (`@AGENTS.md`, or a symlink with `claude_link`), own
    `.claude/rules`, a `copilot-instructions.md`; with `clash`, a `testing.mdc` of its own
    (the small library has one too)."""
    make_repo(path)
    for name, text in OWN_RULES.items():
        (path / RULES / name).parent.mkdir(parents=True, exist_ok=True)
        (path / RULES / name).write_text(text)
    if clash:
        (path / RULES / "testing.mdc").write_text(
            rule_text("our tests", "We use unittest.", globs="tests/**")
        )
    (path / "AGENTS.md").write_text(USER_AGENTS)
    if claude_link:
        (path / "CLAUDE.md").symlink_to("AGENTS.md")
    else:
        (path / "CLAUDE.md").write_text("@AGENTS.md\n")
    (path / ".claude/rules").mkdir(parents=True)
    for name, text in OWN_CLAUDE.items():
        (path / ".claude/rules" / name).write_text(text)
    (path / ".github").mkdir()
    (path / ".github/copilot-instructions.md").write_text(USER_COPILOT)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "the team's rules")
    return path


def own_files(path: Path) -> dict[str, bytes]:
    """The bytes of every file the team wrote (rules, CLAUDE.md as stored)."""
    found = {f"{RULES}/{n}": (path / RULES / n).read_bytes() for n in OWN_RULES}
    found |= {f".claude/rules/{n}": (path / ".claude/rules" / n).read_bytes() for n in OWN_CLAUDE}
    claude = path / "CLAUDE.md"
    found["CLAUDE.md"] = (
        os.readlink(claude).encode() if claude.is_symlink() else claude.read_bytes()
    )
    return found


def set_marker(path: Path, text: str) -> None:
    (path / ".rulesync.yaml").write_text(text)


def applied_and_committed(repo: Path, *args: str) -> tuple[dict[str, int], str, str]:
    """Run `apply`; its console counts, and the subject and body of the commit it made."""
    before = git(repo, "rev-parse", "HEAD").strip()
    proc = rulesync(repo, "apply", *args)
    assert proc.returncode in (0, 1), proc.stderr
    assert "committed" in proc.stdout, proc.stdout
    assert git(repo, "rev-parse", "HEAD").strip() != before
    body = git(repo, "log", "-1", "--format=%B")
    return console_counts(proc.stdout), body.splitlines()[0], body


def test_a_file_already_as_the_library_has_it_is_adopted_not_added(
    project: Path, library: Path
) -> None:
    (project / RULES).mkdir(parents=True)
    (project / RULES / "logging.mdc").write_bytes((library / "basic/logging.mdc").read_bytes())
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our copy of the logging rule")
    console, subject, body = applied_and_committed(project)
    assert f"adopt {RULES}/logging.mdc" in body.splitlines()
    assert f"A {RULES}/logging.mdc" not in body
    assert subject == "rulesync: install basic rules (+2, 1 adopted)"
    assert console == {"+": 2, "~": 0, "-": 0, "adopted": 1, "released": 0}
    manifest = json.loads((project / ".rulesync-manifest.json").read_text())
    assert f"{RULES}/logging.mdc" in manifest["files"]
    # The commit changed nothing of the adopted file: only what rulesync wrote is in it.
    changed = git(project, "show", "--name-only", "--format=", "HEAD").split()
    assert f"{RULES}/logging.mdc" not in changed


def test_a_block_added_to_the_teams_agents_md_is_a_modification(tmp_path: Path) -> None:
    repo = make_team_repo(tmp_path / "team")
    set_marker(repo, "phase: basic\nlibrary: default\ntargets: [cursor, agents, copilot]\n")
    console, subject, body = applied_and_committed(repo)
    lines = body.splitlines()
    assert "M AGENTS.md (block added)" in lines
    assert "M .github/copilot-instructions.md (block added)" in lines
    assert "A AGENTS.md" not in body
    assert console["~"] == 2 and subject_counts(subject) == console
    # The block goes first (Codex's cut then falls on the user's text); that text is kept.
    assert (repo / "AGENTS.md").read_text().endswith(USER_AGENTS)
    assert (repo / "CLAUDE.md").read_text() == "@AGENTS.md\n"


def test_force_over_a_users_file_is_one_modification_on_console_and_commit(
    project: Path,
) -> None:
    (project / RULES).mkdir(parents=True)
    (project / RULES / "testing.mdc").write_text(rule_text("ours", "We use unittest."))
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our testing rule")
    rulesync(project, "apply", check=1)
    console, subject, body = applied_and_committed(project, "--force")
    assert f"M {RULES}/testing.mdc (replaced your version, saved first)" in body.splitlines()
    assert console == subject_counts(subject) == body_counts(body)
    assert console["~"] == 1


def test_a_commit_owed_by_an_earlier_run_is_counted_the_same_on_the_console(
    project: Path,
) -> None:
    rulesync(project, "apply", "--no-commit", check=0)
    console, subject, body = applied_and_committed(project)
    assert console == subject_counts(subject) == body_counts(body)
    assert console["+"] == 3


def _edit(path: str, text: str) -> Callable[[Path], None]:
    def step(repo: Path) -> None:
        (repo / path).write_text(text)

    return step


def _marker(text: str) -> Callable[[Path], None]:
    return _edit(".rulesync.yaml", text)


def _delete(path: str) -> Callable[[Path], None]:
    def step(repo: Path) -> None:
        (repo / path).unlink()

    return step


def _committed(step: Callable[[Path], None]) -> Callable[[Path], None]:
    """`step`, then the user commits it (so rulesync's commit has something to undo)."""

    def committed(repo: Path) -> None:
        step(repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "the user's change")

    return committed


ALL = "targets: [cursor, agents, claude, copilot, devin]\n"
# Each scenario: steps, each a change to the repository followed by an `apply` (with the
# given flags) that must commit. The existing suite's kinds of sync: a first install, a
# phase up and down, targets added and removed, an exclude, a file put back, a library
# edit, `--force` over an edit, an owed commit, adopting and a block in the team's files.
SCENARIOS: dict[str, list[tuple[Callable[[Path], None] | None, tuple[str, ...]]]] = {
    "install": [(None, ())],
    "phase up and down": [
        (None, ()),
        (_marker("phase: advanced\n"), ()),
        (_marker("phase: enterprise\n"), ()),
        (_marker("phase: basic\n"), ()),
    ],
    "targets added then removed": [
        (None, ()),
        (_marker("phase: basic\n" + ALL), ()),
        (_marker("phase: basic\ntargets: [cursor, devin]\n"), ()),
    ],
    "exclude": [(None, ()), (_marker("phase: basic\nexclude: [logging]\n"), ())],
    "deleted file put back": [(None, ()), (_committed(_delete(f"{RULES}/testing.mdc")), ())],
    "edit forced": [
        (None, ()),
        (_committed(_edit(f"{RULES}/testing.mdc", "mine\n")), ("--force",)),
    ],
    "all targets at once": [(_marker("phase: advanced\n" + ALL), ())],
    "owed commit": [(None, ("--no-commit",)), (None, ())],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_console_summary_equals_its_commits_counts(project: Path, name: str) -> None:
    for step, flags in SCENARIOS[name]:
        if step is not None:
            step(project)
        if "--no-commit" in flags:
            rulesync(project, "apply", *flags, check=0)
            continue
        console, subject, body = applied_and_committed(project, *flags)
        assert console == subject_counts(subject) == body_counts(body), (name, subject, body)


@pytest.mark.parametrize("claude_link", [False, True], ids=["at-agents", "symlink"])
def test_team_repository_with_every_target_counts_the_same_and_keeps_its_files(
    tmp_path: Path, claude_link: bool
) -> None:
    repo = make_team_repo(tmp_path / "team", claude_link=claude_link)
    before = own_files(repo)
    set_marker(repo, "phase: basic\nlibrary: default\n" + ALL)
    console, subject, body = applied_and_committed(repo)
    assert console == subject_counts(subject) == body_counts(body)
    assert own_files(repo) == before
    assert rulesync_commits(repo) == [subject]
    again = rulesync(repo, "apply", check=0)
    assert again.stdout.startswith("in sync")


def test_excluding_a_rule_you_edited_leaves_your_file_in_place_and_exits_0(
    project: Path,
) -> None:
    rulesync(project, "apply", check=0)
    mine = project / RULES / "logging.mdc"
    mine.write_text(rule_text("our logging", "We log to stdout."))
    git(project, "commit", "-qam", "our logging rule")
    proc = rulesync(project, "apply", check=1)
    assert "exclude: [logging]" in proc.stderr and "rename yours" in proc.stderr
    set_marker(project, "phase: basic\nexclude: [logging]\n")
    diff = rulesync(project, "diff", check=1).stdout
    assert "left in place, now yours (apply --force would delete it" in diff
    proc = rulesync(project, "apply", check=0)
    assert mine.read_text() == rule_text("our logging", "We log to stdout.")
    body = git(project, "log", "-1", "--format=%B")
    assert f"release {RULES}/logging.mdc (you edited it: left in place, now yours)" in body
    assert console_counts(proc.stdout) == subject_counts(body.splitlines()[0])
    assert console_counts(proc.stdout)["released"] == 1
    manifest = json.loads((project / ".rulesync-manifest.json").read_text())
    assert f"{RULES}/logging.mdc" not in manifest["files"]
    rulesync(project, "check", check=0)
    assert rulesync(project, "apply", check=0).stdout.startswith("in sync")


def test_a_clash_names_both_files_and_three_ways_out_and_exclude_leaves_yours(
    project: Path, library: Path
) -> None:
    ours = rule_text("our tests", "We use unittest.")
    (project / RULES).mkdir(parents=True)
    (project / RULES / "testing.mdc").write_text(ours)
    proc = rulesync(project, "apply", check=1)
    out = proc.stdout + proc.stderr
    assert f"{RULES}/testing.mdc" in out and str(library / "basic/testing.mdc") in out
    assert "rename yours" in proc.stderr
    assert "`exclude: [testing]`" in proc.stderr and "yours is left alone" in proc.stderr
    assert "apply --force` (saves yours first)" in proc.stderr
    set_marker(project, "phase: basic\nexclude: [testing]\n")
    rulesync(project, "apply", check=0)
    assert (project / RULES / "testing.mdc").read_text() == ours
    rulesync(project, "check", check=0)


def test_broken_block_markers_get_advice_that_works_not_force(project: Path) -> None:
    set_marker(project, "phase: basic\ntargets: [cursor, agents]\n")
    rulesync(project, "apply", check=0)
    agents = project / "AGENTS.md"
    text = agents.read_text()
    begin = text.splitlines()[0]
    agents.write_text("# ours\n\n" + begin + "\n" + text)  # two begin lines
    proc = rulesync(project, "apply", check=1)
    assert "fix the rulesync marker lines in AGENTS.md" in proc.stderr
    assert "--force" not in proc.stderr
    assert rulesync(project, "apply", "--force").returncode == 1  # what it used to advise
    # The advice: delete rulesync's block with its marker lines; apply writes it again.
    agents.write_text("# ours\n")
    rulesync(project, "apply", check=0)
    assert agents.read_text().endswith("\n# ours\n")
    rulesync(project, "check", check=0)


def test_status_and_check_verbose_list_the_repositorys_own_rules_as_yours(
    tmp_path: Path,
) -> None:
    repo = make_team_repo(tmp_path / "team", claude_link=True)
    set_marker(repo, "phase: basic\nlibrary: default\ntargets: [cursor, agents, claude]\n")
    rulesync(repo, "apply", check=0)
    own_cursor = sorted(f"{RULES}/{n}" for n in OWN_RULES)
    status = rulesync(repo, "status", check=0).stdout
    assert "yours (not managed, left as they are):" in status
    assert f"  cursor (4): {', '.join(own_cursor)}" in status
    assert "  claude (1): .claude/rules/house.md" in status
    doc = json.loads(rulesync(repo, "status", "--json", check=0).stdout)
    assert doc["yours"] == {"cursor": own_cursor, "claude": [".claude/rules/house.md"]}
    checked = rulesync(repo, "check", "--verbose", check=0).stdout
    assert checked.startswith("in sync") and f"  cursor (4): {', '.join(own_cursor)}" in checked
    assert "yours" not in rulesync(repo, "check", check=0).stdout
    doc = json.loads(rulesync(repo, "check", "--verbose", "--json", check=0).stdout)
    assert doc["yours"]["claude"] == [".claude/rules/house.md"]


def test_apply_json_carries_the_same_change_as_the_commit(project: Path, library: Path) -> None:
    (project / RULES).mkdir(parents=True)
    (project / RULES / "logging.mdc").write_bytes((library / "basic/logging.mdc").read_bytes())
    doc = json.loads(rulesync(project, "apply", "--json", check=0).stdout)
    change = doc["change"]
    assert (change["added"], change["updated"], change["deleted"], change["adopted"]) == (
        2,
        0,
        0,
        1,
    )
    subject = git(project, "log", "-1", "--format=%s").strip()
    assert subject == "rulesync: install basic rules (+2, 1 adopted)"
    body = git(project, "log", "-1", "--format=%b").split("\n\n")[0].splitlines()
    assert [f"{e['change']} {e['path']}" for e in change["entries"]] == body


def test_editing_a_rule_rulesync_took_over_is_not_a_trap(project: Path, library: Path) -> None:
    (project / RULES).mkdir(parents=True)
    mine = project / RULES / "logging.mdc"
    mine.write_bytes((library / "basic/logging.mdc").read_bytes())
    rulesync(project, "apply", check=0)  # adopted
    mine.write_text(rule_text("our logging", "We log to stdout."))
    proc = rulesync(project, "apply", check=1)
    assert "logging.mdc: was edited since rulesync wrote it or took it over" in proc.stdout
    assert "rename yours" in proc.stderr and "`exclude: [logging]`" in proc.stderr
    set_marker(project, "phase: basic\nexclude: [logging]\n")
    rulesync(project, "apply", check=0)
    assert mine.read_text() == rule_text("our logging", "We log to stdout.")
    rulesync(project, "check", check=0)


def test_the_suites_count_check_sees_a_commit_that_counts_otherwise(project: Path) -> None:
    from support.counts import check_commit_counts

    git(project, "commit", "-q", "--allow-empty", "-m", "rulesync: install basic rules (+2)\n\nA x")
    sha = git(project, "rev-parse", "HEAD").strip()
    check_commit_counts(project, "in sync: basic\n")  # no commit said: nothing to compare
    with pytest.raises(AssertionError, match="apply said"):
        check_commit_counts(project, f"basic: +2 ~0 -0\ncommitted {sha[:10]}\n")


def test_a_file_adopted_by_a_run_without_a_commit_is_adopt_in_the_owed_commit(
    project: Path, library: Path
) -> None:
    (project / RULES).mkdir(parents=True)
    (project / RULES / "logging.mdc").write_bytes((library / "basic/logging.mdc").read_bytes())
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our copy of the logging rule")
    first = rulesync(project, "apply", "--no-commit", check=0)
    assert console_counts(first.stdout)["adopted"] == 1
    console, subject, body = applied_and_committed(project)
    assert subject == "rulesync: install basic rules (+2, 1 adopted)"
    assert f"adopt {RULES}/logging.mdc" in body.splitlines()
    assert console == {"+": 2, "~": 0, "-": 0, "adopted": 1, "released": 0}
