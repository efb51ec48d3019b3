"""Every path rulesync reads, writes, deletes or prints under a project is reached from the
project root one component at a time without following any symlink; a symlink on the way is
refused (exit 2, naming it); nothing under `.git` is ever a target path."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from rulesync.config import load_config
from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import Folders, read_under
from support.daemon import Daemon
from support.env import snapshot
from support.repos import git, rulesync

MANIFEST = ".rulesync-manifest.json"
COMMANDS = (("apply",), ("check",), ("diff",), ("status",), ("apply", "--force"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _forge(project: Path, files: dict[str, str], targets: list[str]) -> None:
    doc = {
        "version": 2,
        "library": load_config().library,
        "tier": "basic",
        "targets": targets,
        "files": files,
        "blocks": {},
    }
    (project / MANIFEST).write_text(json.dumps(doc))


def _commit_all(project: Path) -> None:
    git(project, "add", "-A", "--force")
    git(project, "commit", "-q", "-m", "a hostile commit")


def _git_dir_state(project: Path) -> dict[str, bytes]:
    """Every file of the git dir but the index and the lock files git or rulesync touch."""
    return {
        k: v
        for k, v in snapshot(project / ".git").items()
        if not k.endswith(".lock") and k != "index"
    }


def test_a_rules_folder_symlinked_to_the_git_dir_is_refused_and_nothing_in_it_changes(
    project: Path,
) -> None:
    (project / ".cursor").mkdir()
    os.symlink("../.git", project / ".cursor" / "rules")
    head = (project / ".git" / "HEAD").read_bytes()
    _forge(project, {".cursor/rules/HEAD.mdc": _sha(head)}, ["cursor"])
    _commit_all(project)
    before = _git_dir_state(project)
    for command in COMMANDS:
        proc = rulesync(project, *command, check=2)
        assert ".cursor/rules" in proc.stderr and "symlink" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert (project / ".git" / "HEAD").read_bytes() == head
    assert _git_dir_state(project) == before
    assert not list((project / ".git").glob("*.mdc"))


def test_a_target_folder_symlinked_to_the_root_cannot_print_or_delete_private_files(
    project: Path,
) -> None:
    secret = b"TOKEN=hunter2-private\n"
    (project / "private.md").write_bytes(secret)  # untracked, the user's own
    (project / ".claude").mkdir()
    os.symlink("..", project / ".claude" / "rules")
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, claude]\n")
    _forge(project, {".claude/rules/private.md": _sha(secret)}, ["cursor", "claude"])
    git(project, "add", ".rulesync.yaml", MANIFEST, ".claude")
    git(project, "commit", "-q", "-m", "a hostile commit")
    for command in COMMANDS:
        proc = rulesync(project, *command, check=2)
        assert ".claude/rules" in proc.stderr and "symlink" in proc.stderr, proc.stderr
        assert b"hunter2" not in (proc.stdout + proc.stderr).encode()
    assert (project / "private.md").read_bytes() == secret


def test_a_symlinked_target_folder_inside_the_project_is_refused(project: Path) -> None:
    (project / "shared-cursor").mkdir()
    os.symlink("shared-cursor", project / ".cursor")
    proc = rulesync(project, "apply", check=2)
    assert f"{project / '.cursor'}: is a symlink" in proc.stderr
    assert list((project / "shared-cursor").iterdir()) == []


def test_a_nested_rule_folder_that_is_a_symlink_is_refused(project: Path, library: Path) -> None:
    nested = library / "basic" / "frontend"
    nested.mkdir()
    (nested / "react.mdc").write_text("---\ndescription: react\n---\nUse hooks.\n")
    (project / ".cursor" / "rules").mkdir(parents=True)
    (project / "elsewhere").mkdir()
    os.symlink("../../elsewhere", project / ".cursor" / "rules" / "frontend")
    proc = rulesync(project, "apply", check=2)
    assert ".cursor/rules/frontend: is a symlink" in proc.stderr
    assert list((project / "elsewhere").iterdir()) == []


def test_the_walk_refuses_a_git_component_and_dot_dot(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a").mkdir()
    with Folders(tmp_path) as folders:
        for bad in (".git", ".GIT/x", "a/../b", "a/./b", "/etc", "a//b"):
            with pytest.raises(UnsafePath):
                folders.open(bad)


def test_the_walk_opens_without_following_a_link_swapped_in_later(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    with Folders(tmp_path) as folders:
        fd = folders.open("a/b")
        assert fd is not None
        os.rename(tmp_path / "a", tmp_path / "moved")
        os.symlink("out", tmp_path / "a")
        with open(os.open("x", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as out:
            out.write(b"x")
    assert (tmp_path / "moved" / "b" / "x").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_read_under_refuses_a_symlink_at_any_depth_and_a_non_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.md").write_bytes(b"hello")
    os.symlink("real", tmp_path / "link")
    (tmp_path / "file").write_bytes(b"")
    assert read_under(tmp_path, "real/f.md", limit=10) == b"hello"
    with pytest.raises(UnsafePath, match="link: is a symlink"):
        read_under(tmp_path, "link/f.md", limit=10)
    os.symlink("f.md", tmp_path / "real" / "g.md")
    with pytest.raises(UnsafePath, match=r"g\.md: is a symlink"):
        read_under(tmp_path, "real/g.md", limit=10)
    with pytest.raises(InvalidInput, match="not a folder"):
        read_under(tmp_path, "file/f.md", limit=10)
    with pytest.raises(FileNotFoundError):
        read_under(tmp_path, "missing/f.md", limit=10)


@pytest.mark.parametrize(
    ("names", "named"),
    [
        (("Foo.mdc", "foo.mdc"), "differ only by case or Unicode normalisation"),
        (("caf\u00e9.mdc", "cafe\u0301.mdc"), "differ only by case or Unicode normalisation"),
        (("CON.mdc",), "device name Windows reserves"),
        (("nul.tar.mdc",), "device name Windows reserves"),
    ],
)
def test_apply_refuses_names_lint_calls_errors_before_any_write(
    project: Path, library: Path, names: tuple[str, ...], named: str
) -> None:
    for name in names:
        (library / "basic" / name).write_text("---\ndescription: odd\n---\nOdd.\n")
    for command in ("apply", "check"):
        proc = rulesync(project, command, check=2)
        assert named in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (project / ".cursor").exists()
    report = rulesync(project, "lint", str(library), check=1).stdout
    assert named in report


def test_a_nested_rule_whose_flattened_name_is_too_long_is_refused_before_any_write(
    project: Path, library: Path
) -> None:
    nested = library / "basic" / ("a" * 120)
    nested.mkdir()
    (nested / ("b" * 120 + ".mdc")).write_text("---\ndescription: deep\n---\nDeep.\n")
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, devin]\n")
    proc = rulesync(project, "apply", check=2)
    assert ".devin/rules/" in proc.stderr and "longer than the 228 bytes" in proc.stderr
    assert not (project / ".cursor").exists() and not (project / ".devin").exists()


def test_the_service_refuses_a_rules_folder_symlinked_to_the_git_dir(
    project: Path, daemon: Daemon
) -> None:
    (project / ".cursor").mkdir()
    os.symlink("../.git", project / ".cursor" / "rules")
    head = (project / ".git" / "HEAD").read_bytes()
    _forge(project, {".cursor/rules/HEAD.mdc": _sha(head)}, ["cursor"])
    _commit_all(project)
    before = _git_dir_state(project)
    rulesync(project, "projects", "add", str(project), check=0)
    daemon.start(wait=False)  # a fresh log: every record is this service's
    failed = daemon.wait_event("sync.failed", project=str(project))
    assert ".cursor/rules: is a symlink" in failed["error"]
    daemon.wait_event("reconcile.done", cause="startup")
    assert (project / ".git" / "HEAD").read_bytes() == head
    assert _git_dir_state(project) == before
