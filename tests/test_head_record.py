"""A no-op `apply` knows it owes no commit without starting git: HEAD's id is read from git's
own files and checked against the record of the last HEAD whose manifest was found to be the
one on disk. Anything unusual asks git, and a moved HEAD or a changed manifest is checked
again."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
from pathlib import Path

import pytest

from rulesync.git import GitDirs, find_git, head_id
from support.repos import git, rulesync, rulesync_commits


def _dirs(repo: Path) -> GitDirs:
    found = find_git(repo)
    assert found is not None
    return found


def test_head_id_reads_a_loose_branch_a_packed_one_and_a_detached_head(repo: Path) -> None:
    assert head_id(_dirs(repo)) == git(repo, "rev-parse", "HEAD").strip()
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert head_id(_dirs(repo)) == git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")  # a loose ref again, newer
    assert head_id(_dirs(repo)) == git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert head_id(_dirs(repo)) == git(repo, "rev-parse", "HEAD").strip()


def test_head_id_leaves_what_it_does_not_know_to_git(repo: Path, tmp_path: Path) -> None:
    heads = repo / ".git" / "refs" / "heads"
    target = tmp_path / "elsewhere"
    target.write_text((heads / "main").read_text())
    (heads / "main").unlink()
    (heads / "main").symlink_to(target)  # not read through
    assert head_id(_dirs(repo)) is None
    git(repo, "checkout", "-q", "--orphan", "unborn")
    assert head_id(_dirs(repo)) is None
    git(repo, "checkout", "-q", "-f", "--detach", target.read_text().strip())
    git(repo, "worktree", "add", "-q", str(tmp_path / "linked"))
    assert head_id(_dirs(tmp_path / "linked")) is None
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/../../config\n")
    assert head_id(_dirs(repo)) is None


@pytest.fixture
def git_starts(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `git` is the real one, noting each start in a file."""
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "git-starts.log"
    wrapper = folder / "git"
    wrapper.write_text(
        f'#!/bin/sh\necho "$1" >> {shlex.quote(str(log))}\nexec {shlex.quote(real)} "$@"\n'
    )
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}, log


def _starts(log: Path) -> list[str]:
    starts = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return starts


def test_a_repeated_no_op_apply_starts_no_git_until_head_or_the_manifest_moves(
    project: Path, git_starts: tuple[dict[str, str], Path]
) -> None:
    env, log = git_starts
    rulesync(project, "apply", check=0, env=env)
    _starts(log)
    rulesync(project, "apply", check=0, env=env)  # reads HEAD's manifest once, records it
    assert _starts(log) == ["cat-file"]
    assert rulesync(project, "apply", check=0, env=env).stdout.startswith("in sync")
    assert _starts(log) == []
    git(project, "commit", "-q", "--allow-empty", "-m", "the user's own commit")
    rulesync(project, "apply", check=0, env=env)
    assert _starts(log) == ["cat-file"]
    rulesync(project, "apply", check=0, env=env)
    assert _starts(log) == []
    assert rulesync_commits(project) == ["rulesync: install basic rules (+3)"]


def test_an_owed_commit_is_made_though_head_was_recorded(project: Path) -> None:
    rulesync(project, "apply", check=0)
    rulesync(project, "apply", check=0)  # the record: HEAD's manifest is the one on disk
    assert (project / ".git" / "rulesync-at-head").is_file()
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", "--no-commit", check=0)
    assert len(rulesync_commits(project)) == 1
    proc = rulesync(project, "apply", check=0)
    assert "committed" in proc.stdout
    assert rulesync_commits(project)[0].startswith("rulesync: phase basic → advanced")
    assert git(project, "status", "--porcelain") == ""


def test_a_record_of_another_head_is_not_believed(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", "--no-commit", check=0)
    # The manifest now on disk, recorded as committed at a HEAD that is not this one.
    record = project / ".git" / "rulesync-at-head"
    manifest = (project / ".rulesync-manifest.json").read_bytes()
    record.write_text(f"{'0' * 40} {hashlib.sha256(manifest).hexdigest()}\n")
    assert "committed" in rulesync(project, "apply", check=0).stdout
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_record_that_is_a_fifo_or_a_symlink_is_not_read(
    project: Path, tmp_path: Path, kind: str
) -> None:
    rulesync(project, "apply", check=0)
    record = project / ".git" / "rulesync-at-head"
    outside = tmp_path / "outside"
    if kind == "fifo":
        os.mkfifo(record)  # reading it would wait for a writer forever
    else:
        outside.write_text("not rulesync's\n")
        record.symlink_to(outside)
    # Not read (no hang, nothing followed): git answers, and the record is replaced by a file.
    assert rulesync(project, "apply", check=0, timeout=60).stdout.startswith("in sync")
    assert record.is_file() and not record.is_symlink()
    assert kind == "fifo" or outside.read_text() == "not rulesync's\n"
