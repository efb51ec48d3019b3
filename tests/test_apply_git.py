"""`rulesync apply` against real git repositories: SPEC §3 items 2 and 5–8."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.env import snapshot
from support.repos import git, make_repo, rulesync, rulesync_commits

RULES = Path(".cursor/rules")


def test_apply_writes_the_tier_and_commits_it(project: Path) -> None:
    proc = rulesync(project, "apply", check=0)
    assert "committed" in proc.stdout
    names = sorted(p.name for p in (project / RULES).iterdir())
    assert names == ["logging.mdc", "privacy.mdc", "testing.mdc"]
    assert (project / ".rulesync-manifest.json").is_file()
    assert rulesync_commits(project) == ["rulesync: install basic rules (+3)"]
    assert git(project, "status", "--porcelain") == ""


def test_second_apply_writes_nothing_and_makes_no_commit(project: Path) -> None:
    rulesync(project, "apply", check=0)
    before = {p: p.stat().st_mtime_ns for p in (project / RULES).iterdir()}
    head = git(project, "rev-parse", "HEAD")
    proc = rulesync(project, "apply", check=0)
    assert proc.stdout.startswith("in sync")
    assert {p: p.stat().st_mtime_ns for p in (project / RULES).iterdir()} == before
    assert git(project, "rev-parse", "HEAD") == head


def test_apply_keeps_user_staged_changes_out_of_the_commit(project: Path) -> None:
    (project / "staged.txt").write_text("staged by the user\n")
    git(project, "add", "staged.txt")
    (project / "README.md").write_text("# project\nunstaged edit\n")
    (project / "untracked.txt").write_text("mine\n")
    rulesync(project, "apply", check=0)
    files = git(project, "show", "--name-only", "--format=", "HEAD").split()
    assert "staged.txt" not in files and "README.md" not in files
    assert set(files) == {
        ".rulesync-manifest.json",
        ".cursor/rules/logging.mdc",
        ".cursor/rules/privacy.mdc",
        ".cursor/rules/testing.mdc",
    }
    status = git(project, "status", "--porcelain").splitlines()
    assert "A  staged.txt" in status
    assert " M README.md" in status
    assert "?? untracked.txt" in status
    assert (project / "untracked.txt").read_text() == "mine\n"


def test_phase_change_commits_marker_rules_and_manifest_only(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / "notes.txt").write_text("user work\n")
    git(project, "add", "notes.txt")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project)[0] == "rulesync: phase basic → advanced (+2 ~1 -0)"
    files = set(git(project, "show", "--name-only", "--format=", "HEAD").split())
    assert files == {
        ".rulesync.yaml",
        ".rulesync-manifest.json",
        ".cursor/rules/logging.mdc",
        ".cursor/rules/monitoring.mdc",
        ".cursor/rules/security.mdc",
    }
    assert "A  notes.txt" in git(project, "status", "--porcelain")


def test_moving_down_a_tier_deletes_and_commits_the_deletions(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: enterprise\n")
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project)[0] == "rulesync: phase enterprise → basic (+0 ~1 -3)"
    tracked = git(project, "ls-files", ".cursor/rules", ".rulesync-manifest.json").split()
    assert sorted(tracked) == [
        ".cursor/rules/logging.mdc",
        ".cursor/rules/privacy.mdc",
        ".cursor/rules/testing.mdc",
        ".rulesync-manifest.json",
    ]
    assert git(project, "status", "--porcelain") == ""


def test_git_log_author_rulesync_lists_every_change_with_trailers(project: Path) -> None:
    for phase in ("basic", "advanced", "enterprise"):
        (project / ".rulesync.yaml").write_text(f"phase: {phase}\n")
        rulesync(project, "apply", check=0)
    assert len(rulesync_commits(project)) == 3
    body = git(project, "log", "-1", "--author=rulesync", "--format=%B")
    assert "Rulesync-Phase: enterprise" in body
    assert "Rulesync-Library: " in body and "sha256:" in body
    assert "A .cursor/rules/deployment-scale.mdc" in body
    author = git(project, "log", "-1", "--format=%an <%ae>|%cn <%ce>")
    assert author == "rulesync <rulesync@localhost>|Dev User <dev@example.com>\n"
    log = rulesync(project, "log", "--json", check=0)
    assert '"Rulesync-Phase": "enterprise"' in log.stdout


def test_no_user_identity_still_commits_with_rulesync_as_committer(
    tmp_path: Path, library: Path
) -> None:
    repo = make_repo(tmp_path / "anon", identity=False)
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(tmp_path / "empty-gitconfig")}
    (tmp_path / "empty-gitconfig").write_text("")
    proc = rulesync(repo, "apply", env=env, check=0)
    assert "committed" in proc.stdout
    who = git(repo, "log", "-1", "--format=%an|%cn")
    assert who == "rulesync|rulesync\n"


def test_folder_outside_git_syncs_without_committing(tmp_path: Path, library: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / ".rulesync.yaml").write_text("phase: basic\n")
    proc = rulesync(folder, "apply", check=0)
    assert "not committed (not a git repository)" in proc.stdout
    assert (folder / RULES / "logging.mdc").exists()


def test_commit_false_syncs_and_says_so(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: basic\ncommit: false\n")
    head = git(project, "rev-parse", "HEAD")
    proc = rulesync(project, "apply", check=0)
    assert "commit: false" in proc.stdout
    assert git(project, "rev-parse", "HEAD") == head
    assert (project / RULES / "privacy.mdc").exists()


def test_no_commit_flag_writes_without_committing(project: Path) -> None:
    head = git(project, "rev-parse", "HEAD")
    rulesync(project, "apply", "--no-commit", check=0)
    assert git(project, "rev-parse", "HEAD") == head
    assert (project / RULES / "privacy.mdc").exists()


def test_hooks_are_skipped_by_default(project: Path) -> None:
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.write_text('#!/bin/sh\necho hook ran >> "$(git rev-parse --git-dir)/hook-ran"\nexit 1\n')
    hook.chmod(0o755)
    rulesync(project, "apply", check=0)
    assert not (project / ".git" / "hook-ran").exists()
    assert rulesync_commits(project)


def test_project_in_a_subfolder_of_a_repository(repo: Path, library: Path) -> None:
    sub = repo / "services" / "vision"
    sub.mkdir(parents=True)
    (sub / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(sub / "..", "-C", str(sub), "apply", check=0)
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert "services/vision/.cursor/rules/logging.mdc" in files
    assert "services/vision/.rulesync.yaml" in files


# --- SPEC §3 item 6: respect the repository's state -------------------------------------


def _assert_deferred(project: Path, reason: str) -> None:
    head = git(project, "rev-parse", "HEAD")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    before = snapshot(project)
    proc = rulesync(project, "apply", check=1)
    assert "deferred" in proc.stderr and reason in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert snapshot(project) == before
    assert git(project, "rev-parse", "HEAD") == head


def _conflicting_branches(project: Path) -> None:
    git(project, "checkout", "-q", "-b", "other")
    (project / "file.txt").write_text("other\n")
    git(project, "add", "file.txt")
    git(project, "commit", "-q", "-m", "other")
    git(project, "checkout", "-q", "main")
    (project / "file.txt").write_text("main\n")
    git(project, "add", "file.txt")
    git(project, "commit", "-q", "-m", "main")


def test_merge_in_progress_defers(project: Path) -> None:
    _conflicting_branches(project)
    git(project, "merge", "other", check=False)
    assert (project / ".git" / "MERGE_HEAD").exists()
    _assert_deferred(project, "merge")


def test_rebase_apply_in_progress_defers(project: Path) -> None:
    _conflicting_branches(project)
    git(project, "checkout", "-q", "other")
    git(project, "rebase", "--apply", "main", check=False)
    assert (project / ".git" / "rebase-apply").exists()
    _assert_deferred(project, "rebase")


def test_interactive_rebase_in_progress_defers(project: Path) -> None:
    for i in range(2):
        (project / f"f{i}.txt").write_text(f"{i}\n")
        git(project, "add", f"f{i}.txt")
        git(project, "commit", "-q", "-m", f"c{i}")
    env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i -e 's/^pick/edit/'"}
    subprocess.run(
        ["git", "rebase", "-i", "HEAD~2"], cwd=project, env=env, capture_output=True, check=True
    )
    assert (project / ".git" / "rebase-merge").exists()
    _assert_deferred(project, "rebase")


def test_cherry_pick_in_progress_defers(project: Path) -> None:
    _conflicting_branches(project)
    git(project, "cherry-pick", "other", check=False)
    _assert_deferred(project, "cherry-pick")


def test_revert_in_progress_defers(project: Path) -> None:
    _conflicting_branches(project)
    (project / "file.txt").write_text("changed again\n")
    git(project, "commit", "-q", "-am", "again")
    git(project, "revert", "--no-edit", "HEAD~1", check=False)
    assert (project / ".git" / "REVERT_HEAD").exists()
    _assert_deferred(project, "revert")


def test_bisect_in_progress_defers(project: Path) -> None:
    git(project, "commit", "-q", "--allow-empty", "-m", "empty")
    git(project, "bisect", "start", "HEAD", "HEAD~2")
    git(project, "checkout", "-q", "main")  # bisect leaves HEAD detached; show bisect alone defers
    _assert_deferred(project, "bisect")


def test_index_lock_defers_and_is_never_deleted(project: Path) -> None:
    lock = project / ".git" / "index.lock"
    lock.write_text("")
    _assert_deferred(project, "index.lock")
    assert lock.exists()


def test_detached_head_defers(project: Path) -> None:
    git(project, "checkout", "-q", "--detach")
    _assert_deferred(project, "detached")


def test_deferred_project_applies_once_the_repository_is_clean(project: Path) -> None:
    lock = project / ".git" / "index.lock"
    lock.write_text("")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", check=1)
    lock.unlink()
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project) == ["rulesync: install advanced rules (+5)"]


@pytest.mark.parametrize("holder", ["flock"])
def test_a_held_project_lock_makes_apply_wait_then_exit_1(project: Path, holder: str) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(config.read_text() + "lock_timeout: 0.3\n")
    lock = project / ".git" / "rulesync.lock"
    script = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(30)\n"
    )
    import sys

    holder_proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder_proc.stdout is not None and holder_proc.stdout.readline() == "held\n"
        proc = rulesync(project, "apply", check=1)
        assert "another rulesync process" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (project / RULES).exists()
    finally:
        holder_proc.kill()
        holder_proc.wait()


def test_hooks_run_when_the_config_asks_for_them(project: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(config.read_text() + "run_hooks: true\n")
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.write_text('#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/hook-ran"\n')
    hook.chmod(0o755)
    rulesync(project, "apply", check=0)
    assert (project / ".git" / "hook-ran").read_text() == "ran\n"
    assert rulesync_commits(project) == ["rulesync: install basic rules (+3)"]


def test_the_commit_holds_the_planned_bytes_not_a_later_edit_of_the_work_tree(
    project: Path,
) -> None:
    from rulesync.config import load_config
    from rulesync.git import find_git
    from rulesync.gitcommit import commit_snapshot

    dirs = find_git(project)
    assert dirs is not None
    (project / "notes.txt").write_text("the user's unstaged work\n")
    (project / ".rulesync.yaml").write_text("phase: enterprise\n")  # saved after planning
    sha = commit_snapshot(
        project,
        {".rulesync.yaml": b"phase: advanced\n", "gone.txt": None},
        "rulesync: test\n",
        author=load_config().commit_author,
    )
    assert sha == git(project, "rev-parse", "HEAD").strip()
    assert git(project, "show", "HEAD:.rulesync.yaml") == "phase: advanced\n"
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == [".rulesync.yaml"]
    status = git(project, "status", "--porcelain").splitlines()
    assert " M .rulesync.yaml" in status and "?? notes.txt" in status
    assert (
        commit_snapshot(
            project, {".rulesync.yaml": b"phase: advanced\n"}, "again\n", author=("a", "a@b")
        )
        is None
    )


def wide_library(path: Path, count: int) -> Path:
    """One tier of `count` distinct rules."""
    (path / "basic").mkdir(parents=True)
    for i in range(count):
        (path / "basic" / f"rule{i:03}.mdc").write_text(f"---\nalwaysApply: true\n---\nRule {i}.\n")
    (path / "tiers.yaml").write_text("tiers:\n  - name: basic\n")
    return path


def test_a_large_apply_stores_its_rules_in_one_pack_not_a_loose_object_each(
    repo: Path, tmp_path: Path
) -> None:
    lib = wide_library(tmp_path / "wide", 150)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"library: {lib}\n")
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(repo, "apply", check=0)
    counts = dict(
        line.split(": ") for line in git(repo, "count-objects", "-v").splitlines() if ": " in line
    )
    assert counts["packs"] == "1"
    assert int(counts["in-pack"]) >= 152  # 150 rules, the manifest and the marker
    assert int(counts["count"]) < 10  # loose: the README commit, trees and the new commit
    assert git(repo, "fsck", "--strict", "--no-dangling") == ""
    assert (
        git(repo, "show", "HEAD:.cursor/rules/rule149.mdc")
        == "---\nalwaysApply: true\n---\nRule 149.\n"
    )
    assert not list((repo / ".git").glob("rulesync-commit-*"))


def test_a_failed_commit_keeps_the_written_rules_and_the_next_apply_commits_them(
    project: Path,
) -> None:
    pack = project / ".git" / "objects" / "pack"
    pack.rmdir()
    pack.write_text("not a folder\n")  # git can store no new object
    failed = rulesync(project, "apply", check=1)
    assert "fast-import failed" in failed.stderr and str(project) in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert (project / RULES / "logging.mdc").is_file()
    assert (project / ".git" / "rulesync-uncommitted").exists()
    assert rulesync_commits(project) == []
    assert not list((project / ".git").glob("rulesync-commit-*"))
    assert not list((project / ".git").glob("fast_import_crash_*"))
    pack.unlink()
    pack.mkdir()
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project) == ["rulesync: install basic rules (+3)"]
    assert git(project, "status", "--porcelain") == ""


def test_show_head_file_gives_the_committed_bytes_exactly(repo: Path) -> None:
    from rulesync.git import show_head_file

    data = b"first line\r\nno final newline stripped\n\n"
    (repo / "exact.bin").write_bytes(data)
    git(repo, "add", "exact.bin")
    git(repo, "commit", "-q", "-m", "exact")
    assert show_head_file(repo, "exact.bin") == data
    assert show_head_file(repo, "missing.txt") is None


def test_apply_after_no_commit_commits_the_rules_it_wrote(project: Path) -> None:
    rulesync(project, "apply", "--no-commit", check=0)
    assert rulesync_commits(project) == []
    proc = rulesync(project, "apply", check=0)
    assert "committed" in proc.stdout
    assert rulesync_commits(project) == ["rulesync: install basic rules (+3)"]
    assert git(project, "status", "--porcelain") == ""
    assert rulesync(project, "apply", check=0).stdout.startswith("in sync")
    assert len(rulesync_commits(project)) == 1


def test_init_outside_git_then_git_init_then_apply_commits_the_rules(
    tmp_path: Path, library: Path
) -> None:
    folder = tmp_path / "later-a-repo"
    folder.mkdir()
    rulesync(folder, "init", check=0)
    assert (folder / RULES / "logging.mdc").is_file()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Dev User")
    git(folder, "config", "user.email", "dev@example.com")
    rulesync(folder, "apply", check=0)
    assert rulesync_commits(folder) == ["rulesync: install basic rules (+3)"]
    committed = git(folder, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert set(committed) == {
        ".rulesync.yaml",
        ".rulesync-manifest.json",
        ".cursor/rules/logging.mdc",
        ".cursor/rules/privacy.mdc",
        ".cursor/rules/testing.mdc",
    }
    assert git(folder, "status", "--porcelain") == ""


def test_a_failed_head_move_leaves_the_users_index_exactly_as_it_was(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rulesync import sync as sync_module
    from rulesync.config import load_config
    from rulesync.git import GitError

    rulesync(project, "apply", check=0)
    (project / "notes.txt").write_text("the user's staged work\n")
    git(project, "add", "notes.txt")
    index = project / ".git" / "index"
    before = index.read_bytes()
    head = git(project, "rev-parse", "HEAD")
    branch_lock = project / ".git" / "refs" / "heads" / "main.lock"
    real = sync_module.execute

    def execute_then_user_git_takes_the_branch(*args: object, **kwargs: object) -> object:
        # After rulesync's busy check: the user's git starts moving the branch.
        backups = real(*args, **kwargs)  # type: ignore[arg-type]
        branch_lock.write_text("")
        return backups

    monkeypatch.setattr(sync_module, "execute", execute_then_user_git_takes_the_branch)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    with pytest.raises(GitError, match="update-ref"):
        sync_module.sync(project, load_config())
    # The real step again (undo() would also undo the isolated user's environment).
    monkeypatch.setattr(sync_module, "execute", real)
    assert index.read_bytes() == before
    assert git(project, "rev-parse", "HEAD") == head
    assert not (project / ".git" / "index.lock").exists()
    assert git(project, "diff", "--cached", "--name-only").split() == ["notes.txt"]

    branch_lock.unlink()  # the user's git is done
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project)[0].startswith("rulesync: phase basic → advanced")
    assert git(project, "show", "--name-only", "--format=", "HEAD").count("notes.txt") == 0
    assert git(project, "status", "--porcelain").splitlines() == ["A  notes.txt"]


def test_a_commit_step_killed_holding_the_index_lock_is_finished_by_the_next_sync(
    project: Path,
) -> None:
    from rulesync.gitcommit import INDEX_PENDING

    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", "--no-commit", check=0)
    # What a run killed between its HEAD move and putting the index in place leaves:
    # HEAD moved, the new index waiting in index.lock, and its note.
    git_dir = project / ".git"
    scratch = project.parent / "scratch-index"
    shutil.copyfile(git_dir / "index", scratch)
    env = {**os.environ, "GIT_INDEX_FILE": str(scratch)}
    subprocess.run(["git", "add", "-A", ".cursor", ".rulesync.yaml"], cwd=project, env=env)
    tree = subprocess.run(
        ["git", "write-tree"], cwd=project, env=env, capture_output=True, text=True
    ).stdout.strip()
    commit = git(project, "commit-tree", tree, "-p", "HEAD", "-m", "rulesync: killed").strip()
    os.replace(scratch, git_dir / "index.lock")
    lock = (git_dir / "index.lock").stat()
    (git_dir / INDEX_PENDING).write_text(f"{lock.st_ino} {lock.st_mtime_ns} {commit}\n")
    git(project, "update-ref", "HEAD", commit)
    rulesync(project, "apply", check=0)
    assert not (git_dir / "index.lock").exists()
    assert not (git_dir / INDEX_PENDING).exists()
    assert git(project, "status", "--porcelain") == ""


def test_an_index_lock_that_is_not_rulesyncs_is_never_touched(project: Path) -> None:
    from rulesync.gitcommit import INDEX_PENDING

    rulesync(project, "apply", check=0)
    git_dir = project / ".git"
    (git_dir / "index.lock").write_text("")  # another git, alive
    (git_dir / INDEX_PENDING).write_text("1 2 0123456789012345678901234567890123456789\n")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    proc = rulesync(project, "apply", check=1)
    assert "index.lock exists" in proc.stderr
    assert (git_dir / "index.lock").exists()


def test_a_phase_change_is_committed_by_five_git_processes(project: Path, tmp_path: Path) -> None:
    # A wrapper ahead of git on PATH writes down each command rulesync starts, then runs git.
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git-commands"
    real_git = shutil.which("git")
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real_git} "$@"\n')
    (shim / "git").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    proc = rulesync(project, "apply", env=env, check=0)
    assert "committed" in proc.stdout
    commands = [line.split() for line in log.read_text().splitlines()]
    started = sorted(next(a for a in c if not a.startswith("-") and "=" not in a) for c in commands)
    assert started == ["cat-file", "config", "fast-import", "update-index", "update-ref"]
    assert rulesync_commits(project)[0].startswith("rulesync: phase basic → advanced")
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "for-each-ref", "--format=%(refname)") == "refs/heads/main\n"


def test_a_user_commit_started_while_rulesync_commits_is_refused_and_carries_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rulesync import gitcommit
    from rulesync import sync as sync_module
    from rulesync.config import load_config

    rulesync(project, "apply", check=0)
    (project / "notes.txt").write_text("the user's work\n")
    git(project, "add", "notes.txt")
    real = gitcommit._FastImport.commit
    refused: list[str] = []

    def user_commits_meanwhile(self: object, *args: object) -> object:
        # rulesync holds the user's index and is about to build its commit on HEAD.
        user = subprocess.run(
            ["git", "commit", "-q", "-m", "user"], cwd=project, capture_output=True, text=True
        )
        refused.append(user.stderr if user.returncode else "")
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(gitcommit._FastImport, "commit", user_commits_meanwhile)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    sync_module.sync(project, load_config())
    monkeypatch.setattr(gitcommit._FastImport, "commit", real)
    assert len(refused) == 1 and "index.lock" in refused[0]
    assert rulesync_commits(project)[0].startswith("rulesync: phase basic → advanced")
    assert "notes.txt" not in git(project, "show", "--name-only", "--format=", "HEAD")
    # The user's commit, made again, holds the user's file and nothing of rulesync's.
    git(project, "commit", "-q", "-m", "user")
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["notes.txt"]
    assert git(project, "status", "--porcelain") == ""


def test_a_run_killed_holding_the_index_before_building_its_commit_lets_it_go(
    project: Path,
) -> None:
    from rulesync.gitcommit import INDEX_PENDING

    rulesync(project, "apply", check=0)
    (project / "notes.txt").write_text("the user's staged work\n")
    git(project, "add", "notes.txt")
    git_dir = project / ".git"
    before = (git_dir / "index").read_bytes()
    # What a run killed after taking index.lock, before any commit existed, leaves: the lock
    # (the user's index as it was) and its note, with no commit named.
    shutil.copyfile(git_dir / "index", git_dir / "index.lock")
    lock = (git_dir / "index.lock").stat()
    (git_dir / INDEX_PENDING).write_text(f"{lock.st_ino} {lock.st_mtime_ns} -\n")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", check=0)
    assert not (git_dir / "index.lock").exists()
    assert not (git_dir / INDEX_PENDING).exists()
    assert rulesync_commits(project)[0].startswith("rulesync: phase basic → advanced")
    assert before != (git_dir / "index").read_bytes()
    assert git(project, "status", "--porcelain").splitlines() == ["A  notes.txt"]


@pytest.mark.parametrize(
    "name",
    ['quote".mdc', "back\\slash.mdc", "tab\there.mdc", "line\nbreak.mdc", "ünï cødé.mdc"],
)
def test_a_snapshot_commits_any_path_exactly(project: Path, name: str) -> None:
    from rulesync.gitcommit import commit_snapshot

    sha = commit_snapshot(
        project, {f"dir/{name}": b"bytes\n", "README.md": None}, "m\n", author=("a", "a@b")
    )
    assert sha == git(project, "rev-parse", "HEAD").strip()
    listed = git(project, "ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0")
    assert f"dir/{name}" in listed and "README.md" not in listed
    assert git(project, "cat-file", "blob", f"HEAD:dir/{name}") == "bytes\n"


def test_a_commits_time_and_zone_are_the_ones_git_would_write(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    env = {**os.environ, "TZ": "Asia/Kolkata"}
    rulesync(project, "apply", env=env, check=0)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "u"], cwd=project, env=env)
    stamps = git(project, "log", "-2", "--date=raw", "--format=%ad %cd %an").splitlines()
    assert [s.split()[1] for s in stamps] == ["+0530", "+0530"]
    assert [s.split()[3] for s in stamps] == ["+0530", "+0530"]
    assert stamps[1].endswith("rulesync")


def test_committing_through_hooks_takes_thousands_of_long_paths(repo: Path, tmp_path: Path) -> None:
    import resource

    lib = tmp_path / "long"
    (lib / "basic").mkdir(parents=True)
    name = "a-rule-with-a-long-and-descriptive-name-" * 2
    for i in range(1500):
        (lib / "basic" / f"{name}{i:04}.mdc").write_text(f"---\nalwaysApply: true\n---\n{i}\n")
    (lib / "tiers.yaml").write_text("tiers:\n  - name: basic\n")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"library: {lib}\nrun_hooks: true\n")
    (repo / ".rulesync.yaml").write_text("phase: basic\n")

    def small_stack() -> None:
        # A command line then holds 128 KiB: 1,500 paths of 100 characters do not fit.
        resource.setrlimit(resource.RLIMIT_STACK, (512 * 1024, 512 * 1024))

    proc = rulesync(repo, "apply", preexec_fn=small_stack, check=0)
    assert "committed" in proc.stdout
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert len([p for p in committed if p.startswith(".cursor/rules/")]) == 1500
    assert git(repo, "status", "--porcelain") == ""


def test_each_git_command_is_logged_with_its_exit_and_time_at_vv_only(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    loud = rulesync(project, "-vv", "apply", check=0).stderr.splitlines()
    ran = [line for line in loud if "event=git.ran" in line]
    assert any('argv="cat-file blob HEAD:.rulesync-manifest.json" exit=0 ms=' in r for r in ran)
    assert any('argv="update-index -z --index-info" exit=0' in r for r in ran)
    assert any("event=git.started" in line and "fast-import" in line for line in loud)
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    quiet = rulesync(project, "-v", "apply", check=0).stderr
    assert "git.ran" not in quiet and "git.started" not in quiet
