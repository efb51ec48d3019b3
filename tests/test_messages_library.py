"""A library named on the command line or served from git: taken for what it is, and the
way out of a refusal named."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rulesync.remote import Cache, fetch
from rulesync.spec import parse_spec
from support.repos import git, make_library, rulesync


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


def _commit_and_push(work: Path, bare: Path, *, amend: bool) -> None:
    (work / "basic" / "logging.mdc").write_text("---\ndescription: x\n---\nnew\n")
    identity = ["-c", "user.name=Lead", "-c", "user.email=lead@example.com"]
    git(work, *identity, "commit", "-qa", *(["--amend"] if amend else []), "-m", "change")
    git(work, "push", "-q", "--force", str(bare), "main")


def test_status_after_a_refused_force_push_points_to_accept_rewrite(
    tmp_path: Path, project: Path
) -> None:
    bare = _served_library(tmp_path)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(f"library: 'file://{bare}#main'\n")
    rulesync(project, "apply", check=0)
    _commit_and_push(tmp_path / "team-rules-work", bare, amend=True)
    rulesync(project, "apply", "--update", check=1)
    out = rulesync(project, "status", check=0).stdout
    assert "(the branch was force-pushed): `rulesync apply --update --accept-rewrite`" in out
    assert "newer fetched" not in out
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["library_rewritten"] is True


def test_status_after_a_plain_push_points_to_update(tmp_path: Path, project: Path) -> None:
    bare = _served_library(tmp_path)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(f"library: 'file://{bare}#main'\n")
    rulesync(project, "apply", check=0)
    _commit_and_push(tmp_path / "team-rules-work", bare, amend=False)
    fetch(Cache(parse_spec(f"file://{bare}#main")))  # as the service's fetcher does
    out = rulesync(project, "status", check=0).stdout
    assert "newer fetched:" in out and "(`rulesync apply --update`)" in out
    assert (
        json.loads(rulesync(project, "status", "--json", check=0).stdout)["library_rewritten"]
        is False
    )
