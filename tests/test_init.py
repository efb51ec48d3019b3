"""`rulesync init` looks before it writes: in a repository with rules or assistant files of its
own it reports them and the choices and writes nothing; `--import` and `--library` choose; a
folder with none still gets the bundled library at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.repos import git, rulesync, rulesync_commits
from tests.test_adopt import OWN_RULES, RULES, make_team_repo, own_files


@pytest.mark.parametrize("claude_link", [False, True], ids=["at-agents", "symlink"])
def test_init_in_a_repository_with_rules_writes_nothing_and_prints_the_choices(
    tmp_path: Path, claude_link: bool
) -> None:
    repo = make_team_repo(tmp_path / "team", claude_link=claude_link, clash=True)
    (repo / ".claude/rules/security.md").write_text("Our own security rule.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a Claude rule named like a bundled one")
    head = git(repo, "rev-parse", "HEAD")
    proc = rulesync(repo, "init", check=2)
    out = proc.stdout
    assert f"  cursor: 5 rule(s) ({RULES}/backend/api.mdc," in out
    assert "  claude: 2 rule(s) (.claude/rules/house.md, .claude/rules/security.md)" in out
    assert "  CLAUDE.md → AGENTS.md (it only points there)" in out
    assert "  .github/copilot-instructions.md" in out
    assert f"  {RULES}/testing.mdc: the library has a different rule" in out
    assert "  .claude/rules/security.md: the library has a rule of this name, `security`" in out
    for choice in ("init --import", "init --library default", "init --library PATH|URL"):
        assert choice in out
    assert "stopped to ask" in proc.stderr
    assert git(repo, "status", "--porcelain", "--ignored") == ""
    assert git(repo, "rev-parse", "HEAD") == head
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "projects.yaml"
    assert not config.exists()  # not registered either


def test_init_import_makes_the_rules_the_projects_library_and_adopts_them(
    tmp_path: Path,
) -> None:
    repo = make_team_repo(tmp_path / "team")
    before = own_files(repo)
    proc = rulesync(repo, "init", "--import", "--no-register", check=0)
    assert "imported 5 rule(s) into .rulesync/library (tier basic)" in proc.stdout
    assert own_files(repo) == before
    assert rulesync_commits(repo) == ["rulesync: install basic rules (+1, 4 adopted)"]
    assert "library: .rulesync/library\n" in (repo / ".rulesync.yaml").read_text()
    assert git(repo, "status", "--porcelain") == ""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    rulesync(clone, "check", check=0)


def test_init_library_default_uses_the_bundled_library_beside_the_teams_rules(
    tmp_path: Path,
) -> None:
    repo = make_team_repo(tmp_path / "team")
    before = own_files(repo)
    rulesync(repo, "init", "--library", "default", "--no-register", check=0)
    assert own_files(repo) == before
    assert rulesync_commits(repo) == ["rulesync: install basic rules (+8)"]
    doc = json.loads(rulesync(repo, "status", "--json", check=0).stdout)
    assert doc["yours"]["cursor"] == sorted(f"{RULES}/{n}" for n in OWN_RULES)


def test_init_in_a_fresh_folder_installs_the_bundled_library_at_once(tmp_path: Path) -> None:
    app = tmp_path / "code" / "my-app"
    git(tmp_path, "config", "--global", "user.name", "Dev User")
    git(tmp_path, "config", "--global", "user.email", "dev@example.com")
    rulesync(tmp_path, "init", str(app), "--no-register", check=0)
    assert rulesync_commits(app) == ["rulesync: install basic rules (+8)"]


def test_init_help_says_what_stopping_to_ask_exits_with() -> None:
    out = rulesync(Path.cwd(), "init", "--help", check=0).stdout
    assert "--import" in out and "--library" in out and "init stopping to ask" in out


def test_init_import_without_rules_to_import_writes_nothing_and_says_what_works(
    repo: Path,
) -> None:
    (repo / "AGENTS.md").write_text("# Agents\n")
    proc = rulesync(repo, "init", "--import", check=2)
    assert "no rules folder found" in proc.stderr and "--library default" in proc.stderr
    assert not (repo / ".rulesync.yaml").exists() and not (repo / ".rulesync").exists()


def test_init_library_outside_the_project_needs_the_users_trust_first(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "AGENTS.md").write_text("# Agents\n")
    elsewhere = tmp_path / "elsewhere-library"
    elsewhere.mkdir()
    proc = rulesync(repo, "init", "--library", str(elsewhere), check=2)
    assert "libraries:" in proc.stderr
    assert not (repo / ".rulesync.yaml").exists()
