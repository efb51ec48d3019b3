"""The documented pre-commit snippets, run with the real `pre-commit` on a real project: the
hook lets a commit through while `.cursor/rules` is in sync and refuses it on drift. The
snippets are read from docs/how-to/ci-and-pre-commit.md, so what a user pastes is what is
tested; the repository's URL is replaced by a git repository holding this checkout's sources,
at a real commit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.repos import REPO_ROOT, git, rulesync

GUIDE = REPO_ROOT / "docs" / "how-to" / "ci-and-pre-commit.md"
# What `pip install` of the hook repository needs: the build recipe and what the wheel holds.
HOOK_REPO_PARTS = (
    "pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "rulesync", "rules", "service",
)  # fmt: skip


def guide_snippets() -> dict[str, str]:
    """The guide's `.pre-commit-config.yaml` snippets, keyed by their repo (`local` or
    `<repository-url>`)."""
    text = GUIDE.read_text(encoding="utf-8")
    snippets = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL):
        config = yaml.safe_load(block)
        if isinstance(config, dict) and "repos" in config:
            snippets[config["repos"][0]["repo"]] = block
    return snippets


def hook_repository(dest: Path) -> tuple[Path, str]:
    """A git repository holding this checkout's sources (as they are on disk) in one commit,
    as a clone of the published repository would; its path and that commit."""
    dest.mkdir()
    for part in HOOK_REPO_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / part)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "src")
    return dest, git(dest, "rev-parse", "HEAD").strip()


def pre_commit(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def commit(project: Path, message: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`git commit -a` in `project`, which runs the installed pre-commit hook."""
    return subprocess.run(
        ["git", "commit", "-q", "-a", "-m", message],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def assert_hook_guards_commits(project: Path, env: dict[str, str]) -> None:
    """In sync: the commit goes through. Drift (the phase changed, rules not applied): the
    hook fails with `rulesync check`'s report and the commit is refused."""
    proc = pre_commit(project, "install", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rulesync(project, "apply", check=0)
    (project / "notes.txt").write_text("in sync\n")
    git(project, "add", "notes.txt")

    passed = commit(project, "notes while in sync", env)

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert git(project, "log", "-1", "--format=%s").strip() == "notes while in sync"
    head = git(project, "rev-parse", "HEAD")

    (project / ".rulesync.yaml").write_text("phase: advanced\n")  # not applied: drift
    refused = commit(project, "phase advanced, rules not applied", env)

    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "rulesync check" in output and "Failed" in output
    assert "monitoring.mdc" in output  # the advanced tier's rule that is missing
    assert git(project, "rev-parse", "HEAD") == head


def hook_env(tmp_path: Path, *, with_rulesync: bool) -> dict[str, str]:
    """The isolated user's environment for pre-commit, whose own cache goes in `tmp_path`;
    `rulesync` is on PATH only `with_rulesync`."""
    bin_dir = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p and p != bin_dir]
    if with_rulesync:
        path.insert(0, bin_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=os.pathsep.join(path), PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    return env


def test_the_guide_has_a_local_and_a_repository_snippet() -> None:
    snippets = guide_snippets()
    assert set(snippets) == {"local", "<repository-url>"}
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (local_hook,) = yaml.safe_load(snippets["local"])["repos"][0]["hooks"]
    # The two ways run the same command the same way.
    for key in ("id", "entry", "pass_filenames", "always_run"):
        assert local_hook[key] == hooks[0][key]


def test_local_snippet_runs_the_installed_rulesync(project: Path, tmp_path: Path) -> None:
    if not (Path(sys.executable).parent / "rulesync").exists():
        pytest.skip("the `rulesync` command is not installed beside this Python")
    (project / ".pre-commit-config.yaml").write_text(guide_snippets()["local"])
    git(project, "add", ".pre-commit-config.yaml")

    assert_hook_guards_commits(project, hook_env(tmp_path, with_rulesync=True))


# pre-commit builds a virtual environment and pip-installs the hook repository and its
# dependencies into it, from the package index: half a minute or more.
@pytest.mark.slow
def test_repository_snippet_installs_rulesync_from_the_hook_repository_at_a_real_rev(
    project: Path, tmp_path: Path
) -> None:
    hook_repo, head = hook_repository(tmp_path / "hook-repo")
    snippet = guide_snippets()["<repository-url>"].replace("<repository-url>", str(hook_repo))
    (project / ".pre-commit-config.yaml").write_text(snippet)
    # No `rulesync` on PATH: the hook must run the one pre-commit installed.
    env = hook_env(tmp_path, with_rulesync=False)

    # What the guide says to do once: it pins `rev:` to a commit that exists.
    proc = pre_commit(project, "autoupdate", env=env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert config["repos"][0]["rev"] == head
    git(project, "add", ".pre-commit-config.yaml")
    assert_hook_guards_commits(project, env)
