"""What `rulesync init` does and says around an existing marker, a home folder, a nested
project and a machine without a service manager."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.repos import rulesync

RULES = Path(".cursor") / "rules"


def _registry() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "projects.yaml"


@pytest.mark.parametrize(
    "marker",
    ["phase: basic\n\tlibrary: default\n", "phase: nope\n", "phase: basic\ncolour: red\n"],
)
def test_init_with_a_broken_marker_registers_nothing_and_changes_nothing(
    repo: Path, library: Path, marker: str
) -> None:
    (repo / ".rulesync.yaml").write_text(marker)
    proc = rulesync(repo, "init", check=2)
    assert "registered" not in proc.stdout
    assert not _registry().exists()
    assert not (repo / ".cursor").exists()
    assert (repo / ".rulesync.yaml").read_text() == marker


def test_init_of_a_deferred_project_still_registers_it_for_the_service_to_retry(
    project: Path,
) -> None:
    (project / ".git" / "MERGE_HEAD").write_text("0" * 40 + "\n")
    proc = rulesync(project, "init", check=1)
    assert f"registered {project}" in proc.stdout
    assert str(project) in _registry().read_text()


def test_init_in_the_home_folder_is_refused_without_allow_home(
    isolated_user: Path, library: Path
) -> None:
    proc = rulesync(isolated_user, "init", check=2)
    assert proc.stderr.startswith(f"rulesync: {isolated_user}: this is your home folder;")
    assert "--allow-home" in proc.stderr
    assert not (isolated_user / ".rulesync.yaml").exists()
    assert not _registry().exists()
    rulesync(isolated_user / "..", "init", "~", "--no-register", check=2)
    assert not (isolated_user / ".rulesync.yaml").exists()
    rulesync(isolated_user, "init", "--allow-home", "--no-register", check=0)
    assert (isolated_user / ".rulesync.yaml").is_file()


def test_init_where_no_service_manager_is_reachable_does_not_suggest_installing_one(
    repo: Path, library: Path, tmp_path: Path
) -> None:
    import shutil
    import subprocess
    import sys

    # A PATH with git and nothing else: no systemctl, as in many containers.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git_path = shutil.which("git")
    assert git_path is not None
    (bin_dir / "git").symlink_to(git_path)
    proc = subprocess.run(
        [sys.executable, "-m", "rulesync", "init"],
        cwd=repo,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "service install" not in proc.stdout
    assert (
        f"registered {repo}: no service is running, so nothing syncs it by itself yet: no user "
        "service manager is reachable here (systemctl is not installed), so run "
        "`rulesync daemon` yourself in a terminal you keep open"
    ) in proc.stdout
    doctor = subprocess.run(
        [sys.executable, "-m", "rulesync", "doctor", "--json"],
        cwd=repo,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "systemctl is not installed" in doctor.stdout
