"""Stay inside the project (SPEC §3 item 9): hostile symlinks, names and library paths."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import git, rulesync

RULES = Path(".cursor/rules")


def test_cursor_rules_symlink_leaving_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-rules"
    outside.mkdir()
    (project / ".cursor").mkdir()
    os.symlink(outside, project / RULES)
    proc = rulesync(project, "apply", check=2)
    assert "outside" in proc.stderr and str(project / RULES) in proc.stderr
    assert list(outside.iterdir()) == []


def test_cursor_symlink_leaving_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-cursor"
    outside.mkdir()
    os.symlink(outside, project / ".cursor")
    rulesync(project, "apply", check=2)
    rulesync(project, "check", check=2)
    assert list(outside.iterdir()) == []


def test_cursor_symlink_inside_the_project_is_allowed(project: Path) -> None:
    (project / "shared-cursor").mkdir()
    os.symlink("shared-cursor", project / ".cursor")
    rulesync(project, "apply", check=0)
    assert (project / "shared-cursor" / "rules" / "logging.mdc").exists()


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
