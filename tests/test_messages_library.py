"""A library named on the command line or served from git: taken for what it is, and the
way out of a refusal named."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, make_library, rulesync


def _served_library(base: Path) -> Path:
    """A library in a bare repository, pushed from a clone beside it."""
    bare = base / "team-rules.git"
    work = base / "team-rules-work"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    make_library(work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.name=Lead", "-c", "user.email=lead@example.com", "commit", "-qm", "v1")
    git(work, "push", "-q", str(bare), "main")
    return bare


def test_tiers_takes_a_file_url_as_a_git_served_library(tmp_path: Path) -> None:
    bare = _served_library(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = rulesync(elsewhere, "tiers", "--library", f"file://{bare}#main", "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["library"] == f"file://{bare}#main"
    assert [t["name"] for t in doc["tiers"]] == ["basic", "advanced", "enterprise"]
    assert not (elsewhere / "file:").exists()
