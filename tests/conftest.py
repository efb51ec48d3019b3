"""Shared fixtures: an isolated user (XDG_* and HOME in temporary folders), real git
repositories, a small rules library, and the real `rulesync` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "awesome-cursor-rules-mdc"
RULESYNC = [sys.executable, "-m", "rulesync"]


# What a fresh user must not inherit: a global git config and git's own overrides.
USER_UNSET = (
    "GIT_CONFIG_GLOBAL",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
)


def user_env(home: Path) -> dict[str, str]:
    """The variables that make a fresh user living in `home` (its XDG folders are created);
    the variables in USER_UNSET are to be removed as well."""
    env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    return env


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment for a subprocess run as a fresh user living in `home`."""
    env = {k: v for k, v in os.environ.items() if k not in USER_UNSET}
    env.update(user_env(home))
    return env


def snapshot(folder: Path, *, skip_git: bool = True) -> dict[str, bytes]:
    """Every entry under `folder` (not following symlinks): file bytes, `->target` for a
    symlink, `<dir>` for a folder, `<fifo>` and so on for the rest."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if skip_git and ".git" in dirnames and here == folder:
            dirnames.remove(".git")
        for name in dirnames + filenames:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if os.path.islink(path):
                found[rel] = b"->" + os.fsencode(os.readlink(path))
            elif path.is_dir():
                found[rel] = b"<dir>"
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = b"<special>"
    return found


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10) -> int:
    """SIGTERM, then SIGKILL if it is still running after `timeout` seconds; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.fixture(autouse=True)
def isolated_user(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test runs as a fresh user: nothing touches the real config, state or git identity."""
    home = tmp_path_factory.mktemp("home")
    for name, value in user_env(home).items():
        monkeypatch.setenv(name, value)
    for name in USER_UNSET:
        monkeypatch.delenv(name, raising=False)
    return home


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run real git in `cwd` and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def make_repo(path: Path, *, identity: bool = True) -> Path:
    """A real git repository with one commit (README) and, by default, a user identity."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if identity:
        git(path, "config", "user.name", "Dev User")
        git(path, "config", "user.email", "dev@example.com")
    (path / "README.md").write_text("# project\n")
    git(path, "add", "README.md")
    env_identity = (
        [] if identity else ["-c", "user.name=Dev User", "-c", "user.email=dev@example.com"]
    )
    git(path, *env_identity, "commit", "-q", "-m", "initial")
    return path


def rule_text(description: str, body: str, *, globs: str = "", always: bool = False) -> str:
    return (
        f"---\ndescription: {description}\nglobs: {globs}\n"
        f"alwaysApply: {str(always).lower()}\n---\n{body}\n"
    )


def make_library(path: Path) -> Path:
    """Three tiers: basic (3 rules), advanced (+2, replaces logging), enterprise (+1)."""
    tiers = {
        "basic": {
            "logging.mdc": rule_text("basic logging", "Use the logging module."),
            "testing.mdc": rule_text("tests", "Write pytest tests.", globs="tests/**/*.py"),
            "privacy.mdc": rule_text("privacy", "Never log face images.", always=True),
        },
        "advanced": {
            "logging.mdc": rule_text("structured logging", "Log JSON lines with structlog."),
            "monitoring.mdc": rule_text("monitoring", "Expose Prometheus metrics."),
            "security.mdc": rule_text("security", "Use JWT.", globs="src/**/*.py"),
        },
        "enterprise": {
            "deployment-scale.mdc": rule_text("scale", "Run on Kubernetes."),
        },
    }
    for tier, rules in tiers.items():
        (path / tier).mkdir(parents=True, exist_ok=True)
        (path / tier / "README.md").write_text(f"# {tier}\n")
        for name, text in rules.items():
            (path / tier / name).write_text(text)
    (path / "tiers.yaml").write_text(
        "version: 1\n"
        "tiers:\n"
        "  - name: basic\n    description: one developer\n"
        "  - name: advanced\n    extends: basic\n    description: a small team\n"
        "    criteria:\n"
        "      - {metric: developers, op: '>=', value: 2, group: team}\n"
        "  - name: enterprise\n    extends: advanced\n    description: many customers\n"
        "    criteria:\n"
        "      - {metric: concurrent_users, op: '>=', value: 100, group: technical}\n"
        "      - {metric: multi_region, op: '==', value: true, group: technical}\n"
        "      - {metric: b2b_customers, op: '>=', value: 10, group: business}\n"
        "    promote_when: {min_groups: 1, group_met: all}\n"
    )
    return path


@pytest.fixture
def library(tmp_path: Path, isolated_user: Path) -> Path:
    """A small library set as the user's default library in config.yaml."""
    lib = make_library(tmp_path / "library")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"library: {lib}\n")
    return lib


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with a user identity and one commit."""
    return make_repo(tmp_path / "project")


@pytest.fixture
def project(repo: Path, library: Path) -> Path:
    """A git repository with a `phase: basic` marker (not yet applied), using the small library."""
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    git(repo, "add", ".rulesync.yaml")
    git(repo, "commit", "-q", "-m", "add marker")
    return repo


def rulesync(
    cwd: Path, *args: str, check: int | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run the real `rulesync` command in `cwd`; `check` asserts the exit code."""
    proc = subprocess.run(
        [*RULESYNC, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        **kw,  # type: ignore[call-overload]
    )
    if check is not None:
        assert proc.returncode == check, (
            f"rulesync {' '.join(args)} exited {proc.returncode}, wanted {check}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc


def rulesync_commits(repo: Path) -> list[str]:
    """Subjects of rulesync's commits, newest first."""
    out = git(repo, "log", "--author=rulesync", "--format=%s")
    return [line for line in out.splitlines() if line]


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real rule files (skipped with a clear message where absent)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


def make_corpus_library(corpus: Path, dest: Path, *, variants: int = 1) -> Path:
    """A library whose tiers are the whole corpus (1,120 rules, names made unique).

    With variants=2 a second tier `big2` holds every rule with one line appended, so
    switching between the two tiers rewrites every file.
    """
    tiers = ["big", "big2"][:variants]
    for tier in tiers:
        (dest / tier).mkdir(parents=True, exist_ok=True)
    for path in sorted(corpus.rglob("*.mdc")):
        name = f"{path.parent.name}-{path.name}"
        data = path.read_bytes()
        (dest / "big" / name).write_bytes(data)
        if variants > 1:
            (dest / "big2" / name).write_bytes(data + b"\n<!-- variant -->\n")
    (dest / "tiers.yaml").write_text(
        "tiers:\n" + "".join(f"  - name: {t}\n    description: corpus\n" for t in tiers)
    )
    return dest
