"""Stay inside the project (SPEC §3 item 9): hostile symlinks, names and library paths."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
from pathlib import Path

import pytest

from rulesync.apply import execute
from rulesync.config import load_config
from rulesync.errors import UnsafePath
from rulesync.fsutil import TMP_MARK, Folders, atomic_write, sweep_temporaries, temporary_name
from rulesync.project import load_project
from support.repos import git, rulesync

RULES = Path(".cursor/rules")


def test_cursor_rules_symlink_leaving_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-rules"
    outside.mkdir()
    (project / ".cursor").mkdir()
    os.symlink(outside, project / RULES)
    proc = rulesync(project, "apply", check=2)
    assert f"{project / RULES}: is a symlink" in proc.stderr
    assert list(outside.iterdir()) == []


def test_cursor_symlink_leaving_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-cursor"
    outside.mkdir()
    os.symlink(outside, project / ".cursor")
    rulesync(project, "apply", check=2)
    rulesync(project, "check", check=2)
    assert list(outside.iterdir()) == []


def test_cursor_symlink_inside_the_project_is_refused_too(project: Path) -> None:
    (project / "shared-cursor").mkdir()
    os.symlink("shared-cursor", project / ".cursor")
    proc = rulesync(project, "apply", check=2)
    assert f"{project / '.cursor'}: is a symlink" in proc.stderr
    assert list((project / "shared-cursor").iterdir()) == []


def test_a_managed_rule_replaced_by_a_symlink_is_not_read_or_followed(
    project: Path, tmp_path: Path
) -> None:
    rulesync(project, "apply", check=0)
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    (project / RULES / "logging.mdc").unlink()
    os.symlink(secret, project / RULES / "logging.mdc")
    proc = rulesync(project, "diff", check=1)
    assert "private" not in proc.stdout
    rulesync(project, "apply", check=1)
    assert secret.read_text() == "private\n"
    rulesync(project, "apply", "--force", check=0)
    assert secret.read_text() == "private\n"
    assert not os.path.islink(project / RULES / "logging.mdc")


def test_manifest_naming_a_path_outside_is_refused(project: Path, tmp_path: Path) -> None:
    rulesync(project, "apply", check=0)
    victim = tmp_path / "victim.mdc"
    victim.write_text("do not delete\n")
    manifest = project / ".rulesync-manifest.json"
    for outside in ("../victim.mdc", ".cursor/rules/../../../victim.mdc", "/tmp/victim.mdc"):
        manifest.write_text(
            '{"version": 2, "library": "x", "tier": "basic", '
            '"files": {"' + outside + '": "' + "0" * 64 + '"}}'
        )
        proc = rulesync(project, "apply", check=2)
        assert "not a plain project-relative path" in proc.stderr
    # A path inside the project that no target writes is refused too.
    manifest.write_text(
        '{"version": 2, "library": "x", "tier": "basic", '
        '"files": {"src/main.py": "' + "0" * 64 + '"}}'
    )
    assert "not a path any target writes" in rulesync(project, "apply", check=2).stderr
    # The manifest of versions before targets: plain rule names in `.cursor/rules`.
    manifest.unlink()
    (project / RULES / ".rulesync-manifest.json").write_text(
        '{"version": 1, "library": "x", "tier": "basic", '
        '"rules": {"../../../victim.mdc": "' + "0" * 64 + '"}}'
    )
    proc = rulesync(project, "apply", check=2)
    assert "not a plain rule file name" in proc.stderr
    assert victim.exists()


def test_marker_library_outside_the_project_is_refused(project: Path) -> None:
    for spec in ("/etc", "../../..", "~/"):
        (project / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {spec}\n")
        proc = rulesync(project, "apply", check=2)
        assert "outside the project" in proc.stderr
        assert "libraries:" in proc.stderr
    assert not (project / RULES).exists()


def test_marker_library_inside_the_project_or_trusted_by_config(
    project: Path, library: Path
) -> None:
    import shutil

    shutil.copytree(library, project / "team-rules")
    (project / ".rulesync.yaml").write_text("phase: basic\nlibrary: team-rules\n")
    rulesync(project, "apply", check=0)
    manifest = (project / ".rulesync-manifest.json").read_text()
    assert '"library": "team-rules"' in manifest

    (project / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {library}\n")
    rulesync(project, "apply", check=0)  # the user's config names it as the default library
    git(project, "status", "--porcelain")


def test_library_symlink_inside_project_leading_out_is_refused(
    project: Path, library: Path, tmp_path: Path
) -> None:
    import shutil

    untrusted = shutil.copytree(library, tmp_path / "untrusted-library")
    os.symlink(untrusted, project / "linked-rules")
    (project / ".rulesync.yaml").write_text("phase: basic\nlibrary: linked-rules\n")
    proc = rulesync(project, "apply", check=2)
    assert "outside the project" in proc.stderr


def test_a_manifest_claiming_a_team_file_cannot_make_apply_lose_it(project: Path) -> None:
    rulesync(project, "apply", check=0)
    team = project / RULES / "team.mdc"
    team.write_text("---\ndescription: the team's own rule\n---\nKeep it.\n")
    git(project, "add", str(team))
    git(project, "commit", "-q", "-m", "team rule")
    manifest = project / ".rulesync-manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"][".cursor/rules/team.mdc"] = hashlib.sha256(team.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(doc))
    planned = rulesync(project, "check", check=1).stdout
    # No `--force` was given: the plan says the file is saved first, not that it was forced.
    assert "- .cursor/rules/team.mdc (saved first: the library never provided" in planned
    assert "forced" not in planned
    proc = rulesync(project, "apply", check=0)
    saved = [line for line in proc.stdout.splitlines() if "saved your version to" in line]
    assert len(saved) == 1, proc.stdout
    backup = Path(saved[0].split("saved your version to ", 1)[1])
    assert backup.read_text() == "---\ndescription: the team's own rule\n---\nKeep it.\n"


def test_a_rule_leaving_the_tier_is_deleted_without_a_backup(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    proc = rulesync(project, "apply", check=0)
    assert "monitoring.mdc" in proc.stdout and "saved" not in proc.stdout
    assert not (project / RULES / "monitoring.mdc").exists()


def test_rules_folder_swapped_for_a_symlink_before_the_writes_is_refused(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / RULES).mkdir(parents=True)
    loaded = load_project(project, load_config())
    # The swap lands after every check of the load, just before the first write.
    (project / RULES).rmdir()
    os.symlink(outside, project / RULES)
    plan = loaded.plan()
    writes = {a.path: loaded.written(a) for a in plan.changes}
    with pytest.raises(UnsafePath):
        execute(plan, loaded.root, writes, loaded.bases, backup_dir=tmp_path / "b")
    assert list(outside.iterdir()) == []


def test_a_write_through_the_open_rules_folder_cannot_follow_a_later_swap(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    rules = project / RULES
    rules.mkdir(parents=True)
    with Folders(project) as folders:
        folder = folders.open(".cursor/rules")
        assert folder is not None
        rules.rename(project / "moved-rules")
        os.symlink(outside, rules)
        atomic_write(rules / "logging.mdc", b"rule\n", dir_fd=folder)
    assert list(outside.iterdir()) == []
    assert (project / "moved-rules" / "logging.mdc").read_bytes() == b"rule\n"


def test_temporary_names_differ_between_writers_and_are_swept(tmp_path: Path) -> None:
    names = {temporary_name("logging.mdc") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert name.startswith(".logging.mdc" + TMP_MARK)
        (tmp_path / name).write_text("half")
    assert sorted(sweep_temporaries(tmp_path)) == sorted(names)


def _small_file_limit() -> None:
    # A file-size limit makes writes fail the way a full disk does, for this process only.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_failed_write_names_the_file_it_was_writing(project: Path, library: Path) -> None:
    (library / "basic" / "large.mdc").write_text("---\ndescription: d\n---\n" + "x" * 20000)
    proc = rulesync(project, "apply", "--no-commit", preexec_fn=_small_file_limit)
    assert proc.returncode != 0
    assert str(project / RULES / "large.mdc") in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("tier", "basic\nRulesync-Phase: enterprise", "control character"),
        ("library", "x\n\nForged body", "control character"),
        ("targets", ["cursor\nRulesync-Library: evil"], "a list of names"),
    ],
)
def test_a_committed_manifest_cannot_forge_lines_of_rulesyncs_commit_message(
    project: Path, field: str, value: object, problem: str
) -> None:
    rulesync(project, "apply", check=0)
    manifest = project / ".rulesync-manifest.json"
    doc = json.loads(manifest.read_text())
    doc[field] = value
    manifest.write_text(json.dumps(doc))
    git(project, "commit", "-q", "-am", "a crafted manifest, as a cloned repository may hold")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    head = git(project, "rev-parse", "HEAD")
    proc = rulesync(project, "apply", check=2)
    assert problem in proc.stderr and str(manifest) in proc.stderr
    assert git(project, "rev-parse", "HEAD") == head
    assert "Rulesync-" not in git(project, "log", "-1", "--format=%B")


def test_temporary_names_differ_across_threads_and_in_a_forked_child() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda _: temporary_name("a.mdc"), range(4000)))
    assert len(set(names)) == len(names)
    assert all(n.startswith(f".a.mdc{TMP_MARK}") and len(n) == len(names[0]) for n in names)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child writes its next name and leaves at once
        os.write(write, temporary_name("a.mdc").encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 200).decode()
    os.close(read)
    tag = len(f".a.mdc{TMP_MARK}")
    assert child[tag : tag + 6] != names[0][tag : tag + 6]
