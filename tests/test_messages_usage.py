"""A mistyped command line gets the command's own usage and the likely fix."""

from __future__ import annotations

from pathlib import Path

from support.repos import rulesync


def test_an_unknown_option_gets_the_commands_usage_and_a_suggestion(project: Path) -> None:
    proc = rulesync(project, "apply", "--forse", check=2)
    assert proc.stderr.startswith("usage: rulesync apply ")
    assert proc.stderr.endswith(
        "rulesync: error: unrecognized arguments: --forse (did you mean `--force`?)\n"
    )
    assert not (project / ".cursor").exists()


def test_each_unknown_option_gets_its_own_suggestion(project: Path) -> None:
    proc = rulesync(project, "apply", "--dry-rn", "--no-comit", check=2)
    assert (
        "unrecognized arguments: --dry-rn (did you mean `--dry-run`?) "
        "--no-comit (did you mean `--no-commit`?)\n"
    ) in proc.stderr


def test_a_global_option_after_the_command_is_shown_where_it_goes(
    project: Path, tmp_path: Path
) -> None:
    proc = rulesync(tmp_path, "status", "-C", str(project), check=2)
    assert proc.stderr.startswith("usage: rulesync status ")
    assert (
        f"unrecognized arguments: -C {project}; `-C` goes before the command, as in git: "
        f"`rulesync -C {project} status …`\n"
    ) in proc.stderr
    proc = rulesync(project, "check", "-v", check=2)
    assert "`-v` goes before the command, as in git: `rulesync -v check …`" in proc.stderr


def test_a_mistyped_target_or_tier_gets_a_suggestion(project: Path) -> None:
    proc = rulesync(project, "explain", "--target", "claud", check=2)
    assert "unknown target 'claud' (did you mean `claude`?)" in proc.stderr
    proc = rulesync(project, "explain", "--tier", "enterprize", check=2)
    assert "no such tier in library" in proc.stderr
    assert "(did you mean `enterprise`?)" in proc.stderr


def test_a_mistyped_target_in_the_marker_gets_a_suggestion(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, claud]\n")
    proc = rulesync(project, "check", check=2)
    assert "claud" in proc.stderr and "did you mean `claude`?" in proc.stderr


def test_an_unknown_option_of_a_sub_action_gets_that_actions_usage(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "projects", "add", "--jsn", str(tmp_path), check=2)
    assert proc.stderr.startswith("usage: rulesync projects add ")
