"""Nothing from a repository runs (SPEC §3 item 9): hooks, fsmonitor and filters that a
cloned repository configures, and GIT_* variables inherited from a caller, are all ignored by
every git command rulesync runs — in the CLI, in the service, and for a library served from
git. Every program is a canary that appends its name to a file outside the repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support.daemon import Daemon, set_phase, wait_commits
from support.env import snapshot
from support.repos import git, make_repo, rulesync, rulesync_commits
from tests.reliability.conftest import Figures
from tests.test_remote_library import Remote, use_library

HOOKS = (
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "post-index-change",
    "fsmonitor-watchman",
)


def canaries(folder: Path, log: Path) -> dict[str, Path]:
    """Executable canaries: every hook, an fsmonitor, filter and textconv programs."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hooks").mkdir(exist_ok=True)
    scripts = {f"hooks/{name}": "exit 0" for name in HOOKS}
    scripts.update(
        {
            "fsmonitor": "exit 1",
            "filter": "cat",
            "process": "exit 1",
            "textconv": 'cat "$1"',
        }
    )
    paths = {}
    for name, tail in scripts.items():
        path = folder / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{tail}\n')
        path.chmod(0o755)
        paths[name] = path
    return paths


def hostile_config(cwd: Path, tools: Path, *scope: str) -> None:
    """Configure every canary in `tools` for the repository at `cwd` (or `--global`)."""
    settings = {
        "core.hooksPath": str(tools / "hooks"),
        "core.fsmonitor": str(tools / "fsmonitor"),
        "filter.x.clean": str(tools / "filter"),
        "filter.x.smudge": str(tools / "filter"),
        "filter.x.process": str(tools / "process"),
        "filter.x.required": "true",
        "diff.x.textconv": str(tools / "textconv"),
    }
    for key, value in settings.items():
        git(cwd, "config", *scope, key, value)


def hostile_project(path: Path, log: Path) -> Path:
    """A repository whose tracked `tools/` holds the canaries its own config points at."""
    repo = make_repo(path)
    canaries(repo / "tools", log)
    (repo / ".gitattributes").write_text("* filter=x diff=x\n")
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a cloned repository's hostile tools")
    hostile_config(repo, repo / "tools")
    return repo


def stray_environment(decoy: Path, hooks: Path) -> dict[str, str]:
    """What a caller (a git hook running rulesync) may leave in the environment."""
    return {
        "GIT_DIR": str(decoy / ".git"),
        "GIT_INDEX_FILE": str(decoy / "stray-index"),
        "GIT_WORK_TREE": str(decoy),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
    }


def test_nothing_configured_by_the_repository_or_inherited_runs_in_cli_and_service(
    tmp_path: Path, library: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    log = tmp_path / "canary.log"
    repo = hostile_project(tmp_path / "project", log)
    decoy = make_repo(tmp_path / "decoy")
    decoy_before = snapshot(decoy, skip_git=False)
    stray = stray_environment(decoy, repo / "tools" / "hooks")
    env = {**os.environ, **stray}

    rulesync(repo, "apply", env=env, check=0)
    rulesync(repo, "phase", "advanced", env=env, check=0)
    for command in ("check", "status", "diff", "log"):
        rulesync(repo, command, env=env, check=0)
    rulesync(repo, "projects", "add", str(repo), env=env, check=0)
    for name, value in stray.items():
        monkeypatch.setenv(name, value)
    service = Daemon(tmp_path)
    try:
        service.start()
        for name in stray:
            monkeypatch.delenv(name)
        set_phase(repo, "basic")
        wait_commits(repo, 3)
    finally:
        service.stop()

    ran = log.read_text() if log.exists() else ""
    assert ran == "", f"repository programs ran:\n{ran}"
    subjects = rulesync_commits(repo)
    assert [s.split(" (")[0] for s in subjects] == [
        "rulesync: phase advanced → basic",
        "rulesync: phase basic → advanced",
        "rulesync: install basic rules",
    ]
    assert snapshot(decoy, skip_git=False) == decoy_before
    assert not (decoy / "stray-index").exists()

    # The canaries are live: plain git runs them.
    git(repo, "status", "--porcelain", check=False)
    filters_off = ["-c", "filter.x.required=false", "-c", "filter.x.process="]
    git(repo, *filters_off, "commit", "-q", "--allow-empty", "-m", "plain")
    ran = log.read_text()
    assert "fsmonitor" in ran and "process" in ran
    assert "hooks/pre-commit" in ran and "hooks/reference-transaction" in ran
    figures.add(
        "Hostile repositories",
        "hooks, fsmonitor, filters and textconv configured by the repository; GIT_DIR, "
        "GIT_INDEX_FILE, GIT_WORK_TREE and GIT_CONFIG_* inherited",
        trials=1,
        failures=0,
        detail="apply, phase, check, status, diff, log and a service sync: no canary ran",
    )


def test_nothing_from_a_library_repository_or_the_users_global_config_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    log = tmp_path / "canary.log"
    tools = tmp_path / "tools"
    canaries(tools, log)
    remote = Remote(tmp_path)
    remote.commit_and_push(".gitattributes", "* filter=x diff=x\n", "attributes")
    hostile_config(remote.bare, tools)
    gitconfig = tmp_path / "global.gitconfig"
    gitconfig.write_text("")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(gitconfig)}
    subprocess.run(["git", "config", "--global", "user.name", "Dev User"], env=env, check=True)
    for key, value in (
        ("core.hooksPath", tools / "hooks"),
        ("core.fsmonitor", tools / "fsmonitor"),
        ("filter.x.clean", tools / "filter"),
        ("filter.x.smudge", tools / "filter"),
        ("filter.x.process", tools / "process"),
    ):
        subprocess.run(["git", "config", "--global", key, str(value)], env=env, check=True)
    use_library(f"{remote.url}#main")
    project = make_repo(tmp_path / "p")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")

    rulesync(project, "apply", env=env, check=0)
    remote.commit_and_push("advanced/monitoring.mdc", "---\ndescription: m\n---\nv2\n")
    log.unlink(missing_ok=True)  # the push itself ran the bare repository's hooks
    rulesync(project, "apply", "--update", env=env, check=0)
    rulesync(project, "check", env=env, check=0)

    ran = log.read_text() if log.exists() else ""
    assert ran == "", f"programs ran:\n{ran}"
    assert len(rulesync_commits(project)) == 2
    assert (project / ".cursor" / "rules" / "monitoring.mdc").read_text().endswith("v2\n")

    # The canaries are live: a plain fetch with the same config runs them.
    clone = tmp_path / "plain-clone"
    subprocess.run(
        ["git", "clone", "-q", remote.url, str(clone)], env=env, check=False, capture_output=True
    )
    assert log.exists() and log.read_text() != ""
    figures.add(
        "Hostile repositories",
        "a library repository and the user's global config with hooks, fsmonitor and filters",
        trials=1,
        failures=0,
        detail="fetch, update and check of a library served from git: no canary ran",
    )
