"""Every resource of a sync is bounded in total, checked before the work: bytes read and
written across all targets (max_sync_bytes), files under the project (max_sync_files) and the
bytes of any one file there (max_file_bytes); a refusal is one line naming the cap and its
config key, and nothing is written."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

import pytest

from rulesync.errors import InvalidInput
from rulesync.fsutil import read_under
from rulesync.targets.blocks import extract
from support.env import snapshot
from support.repos import RULESYNC, git, rulesync

ALL_TARGETS = "[cursor, agents, claude, copilot, devin, windsurf]"
# Address space for one rulesync process: far above what a sync of these projects needs,
# far below what reading them without the caps takes.
ADDRESS_SPACE = 1024 * 1024 * 1024


def _capped_rulesync(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `rulesync`, with its address space capped (a memory blow-up fails it)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    return subprocess.run(
        [*RULESYNC, *args], cwd=cwd, capture_output=True, text=True, preexec_fn=limit, timeout=120
    )


def _config(library: Path, **caps: int) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    extra = "".join(f"{key}: {value}\n" for key, value in caps.items())
    config.write_text(f"library: {library}\n{extra}")


def test_an_agents_md_of_100_mb_of_newlines_is_refused_naming_the_cap(project: Path) -> None:
    (project / "AGENTS.md").write_bytes(b"\n" * (100 * 1024 * 1024))
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, agents]\n")
    before = snapshot(project / ".cursor") if (project / ".cursor").exists() else {}
    for command in ("apply", "check", "diff", "status"):
        proc = _capped_rulesync(project, command)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "AGENTS.md" in proc.stderr and "max_file_bytes" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (project / ".cursor").exists() or snapshot(project / ".cursor") == before


def test_a_block_file_of_millions_of_lines_under_the_cap_is_read_in_bounded_memory(
    project: Path,
) -> None:
    (project / "AGENTS.md").write_bytes(b"\n" * (8 * 1024 * 1024 - 1))
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, agents]\n")
    proc = _capped_rulesync(project, "apply")
    assert proc.returncode == 0, proc.stderr
    assert extract((project / "AGENTS.md").read_bytes()) is not None


def test_the_byte_budget_holds_across_all_targets_together(project: Path, library: Path) -> None:
    tier = sum(p.stat().st_size for p in (library / "basic").glob("*.mdc"))
    # Room for the tier read and written once or twice, not six times.
    _config(library, max_sync_bytes=tier * 3 + 3 * 1024 * 3)
    (project / ".rulesync.yaml").write_text(f"phase: basic\ntargets: {ALL_TARGETS}\n")
    proc = rulesync(project, "apply", check=2)
    assert "max_sync_bytes" in proc.stderr and str(project) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (project / ".cursor").exists() and not (project / ".claude").exists()
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(project, "apply", check=0)


def test_the_file_budget_counts_every_target(project: Path, library: Path) -> None:
    _config(library, max_sync_files=4)
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, claude]\n")
    proc = rulesync(project, "apply", check=2)
    assert "max_sync_files" in proc.stderr and "6 files" in proc.stderr
    assert not (project / ".cursor").exists()
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(project, "apply", check=0)


def test_a_file_rulesync_would_write_past_the_file_cap_is_refused_before_writing(
    project: Path, library: Path
) -> None:
    _config(library, max_file_bytes=64)
    proc = rulesync(project, "apply", check=2)
    assert "max_file_bytes" in proc.stderr and ".cursor/rules/" in proc.stderr
    assert not (project / ".cursor").exists()


@pytest.mark.slow
def test_six_targets_of_a_tier_just_under_the_default_caps_are_refused_in_bounded_memory(
    project: Path, library: Path
) -> None:
    big = library / "basic"
    line = b"- keep every service consistent with the team's logging rules.\n"
    for index in range(60):  # 60 rules of just under 1 MiB: just under max_tier_bytes
        body = line * ((1024 * 1024 - 200) // len(line))
        (big / f"big{index:02}.mdc").write_bytes(b"---\nalwaysApply: true\n---\n" + body)
    (project / ".rulesync.yaml").write_text(f"phase: basic\ntargets: {ALL_TARGETS}\n")
    proc = _capped_rulesync(project, "apply")
    assert proc.returncode == 2, proc.stderr
    assert "max_sync_bytes" in proc.stderr
    assert not (project / ".cursor").exists()


@pytest.mark.slow
def test_five_thousand_long_named_rules_for_two_targets_commit_through_stdin(
    project: Path, library: Path
) -> None:
    """Paths reach git on stdin: as arguments, 10,000 long paths overflow the command line."""
    basic = library / "basic"
    for index in range(4990):
        name = f"{index:05}-{'keep-the-services-consistent-' * 6}"[:190] + ".mdc"
        (basic / name).write_bytes(b"---\nalwaysApply: true\n---\nBe consistent.\n")
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, claude]\n")
    rulesync(project, "apply", check=0)
    committed = git(project, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert len([p for p in committed if p.startswith((".cursor/rules/", ".claude/rules/"))]) > 9980
    rulesync(project, "check", check=0)


@pytest.mark.parametrize("size", [0, 1, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (3 << 20) + 5])
def test_a_file_within_the_cap_is_read_whole_and_one_past_it_is_refused(
    tmp_path: Path, size: int
) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    (tmp_path / "f").write_bytes(data)
    assert read_under(tmp_path, "f", limit=size) == data
    if size:
        with pytest.raises(InvalidInput, match="more than the"):
            read_under(tmp_path, "f", limit=size - 1)
