"""Real git repositories, rules libraries, and the real `rulesync` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.counts import check_commit_counts

REPO_ROOT = Path(__file__).resolve().parent.parent
# The shared corpus of real rule files, beside the checkout (absent in most places).
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "awesome-cursor-rules-mdc"
RULESYNC = [sys.executable, "-m", "rulesync"]


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
    """An `.mdc` rule: front matter and body."""
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


def rulesync(
    cwd: Path, *args: str, check: int | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run the real `rulesync` command in `cwd`; `check` asserts the exit code."""
    proc: subprocess.CompletedProcess[str] = subprocess.run(
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
    if args[:1] == ("apply",):
        check_commit_counts(cwd, proc.stdout)
    return proc


def rulesync_commits(repo: Path) -> list[str]:
    """Subjects of rulesync's commits on the current branch, newest first (none while git
    cannot read the repository, as in the middle of a clone)."""
    out = git(repo, "log", "--author=rulesync", "--format=%s", check=False)
    return [line for line in out.splitlines() if line]
