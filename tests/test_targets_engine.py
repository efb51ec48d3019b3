"""Every target through the engine (SPEC §1 Managed files, §3, §4, §8): a project writing the
bundled library for cursor, agents, claude, copilot and devin, on real git repositories with
the real `rulesync` command and the real service."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from rulesync.library import bundled_root, load_library
from rulesync.reading import plan_together
from rulesync.targets import Rendered, SourceRule, combine
from rulesync.targets.blocks import extract
from support.daemon import Daemon
from support.env import snapshot
from support.repos import git, make_repo, rulesync, rulesync_commits

ALL = ("cursor", "agents", "claude", "copilot", "devin")
MANIFEST = ".rulesync-manifest.json"
BLOCK_FILES = ("AGENTS.md", ".github/copilot-instructions.md")
# A user's own AGENTS.md: CRLF lines, no final newline, text that looks like markup.
USER_AGENTS = b"# Our agents\r\n\r\nRun `make test` before pushing.\r\n<!-- ours -->\r\nLast line"


def expected(tier: str, targets: Sequence[str] = ALL, exclude: Sequence[str] = ()) -> Rendered:
    """What the targets render for a tier of the bundled library (the targets are tested on
    their own; here the engine must write exactly this)."""
    library = load_library(bundled_root(), "default")
    rules = [
        SourceRule(path, rule.data)
        for path, rule in library.resolve(tier).items()
        if path.removesuffix(".mdc") not in exclude
    ]
    # Planned together, as apply plans them for a project with no instruction file of its own.
    return combine(plan_together(targets, rules, {}))


def write_marker(project: Path, phase: str, targets: Sequence[str] = ALL, extra: str = "") -> None:
    (project / ".rulesync.yaml").write_text(
        f"phase: {phase}\nlibrary: default\ntargets: [{', '.join(targets)}]\n{extra}"
    )


def managed_on_disk(project: Path, want: Rendered) -> None:
    """Every file the targets render is on disk byte for byte, and every block is in its file."""
    for path, data in want.files.items():
        assert (project / path).read_bytes() == data, path
    for path, content in want.blocks.items():
        found = extract((project / path).read_bytes(), path)
        assert found is not None and found.rstrip(b"\n") == content.rstrip(b"\n"), path


def target_files(project: Path) -> set[str]:
    """Every file under the targets' folders (and the block files), project-relative."""
    found = set()
    for folder in (".cursor", ".claude", ".github", ".devin", ".windsurf"):
        found |= {f"{folder}/{p}" for p, v in snapshot(project / folder).items() if v != b"<dir>"}
    return found | {p for p in BLOCK_FILES if (project / p).exists()}


def head_bytes(repo: Path, path: str) -> bytes:
    """A file's exact bytes at HEAD."""
    return subprocess.run(
        ["git", "show", f"HEAD:{path}"], cwd=repo, capture_output=True, check=True
    ).stdout


def head_files(project: Path) -> set[str]:
    return set(git(project, "show", "--name-only", "--format=", "HEAD").split())


@pytest.fixture
def project(repo: Path) -> Path:
    """A git repository whose committed marker asks for the five targets on the bundled
    library (not yet applied)."""
    write_marker(repo, "basic")
    git(repo, "add", ".rulesync.yaml")
    git(repo, "commit", "-q", "-m", "add marker")
    return repo


def test_init_writes_every_target_and_commits_them_once(project: Path) -> None:
    rulesync(project, "init", "--no-register", check=0)
    want = expected("basic")
    managed_on_disk(project, want)
    assert target_files(project) == set(want.files) | set(want.blocks)
    assert {p.split("/")[0] for p in want.files} == {".cursor", ".claude", ".github", ".devin"}
    assert rulesync_commits(project) == [
        f"rulesync: install basic rules (+{len(want.files) + len(want.blocks)})"
    ]
    assert head_files(project) == set(want.files) | set(want.blocks) | {MANIFEST}
    manifest = json.loads((project / MANIFEST).read_text())
    assert manifest["targets"] == list(ALL)
    assert set(manifest["files"]) == set(want.files)
    assert set(manifest["blocks"]) == set(BLOCK_FILES)
    assert git(project, "status", "--porcelain") == ""
    assert rulesync(project, "apply", check=0).stdout.startswith("in sync")
    assert len(rulesync_commits(project)) == 1


def test_phase_up_and_down_moves_every_target_in_one_commit_each(project: Path) -> None:
    rulesync(project, "apply", check=0)
    for phase in ("enterprise", "advanced", "basic"):
        rulesync(project, "phase", phase, check=0)
        want = expected(phase)
        managed_on_disk(project, want)
        # Files of rules leaving the tier are gone in every target, and only they.
        assert target_files(project) == set(want.files) | set(want.blocks)
        assert git(project, "status", "--porcelain") == ""
        rulesync(project, "check", check=0)
    subjects = rulesync_commits(project)
    assert [s.split(" (")[0] for s in subjects] == [
        "rulesync: phase advanced → basic",
        "rulesync: phase enterprise → advanced",
        "rulesync: phase basic → enterprise",
        "rulesync: install basic rules",
    ]
    # Going down removes the files of every target in the same commit as the rest.
    changed = head_files(project)
    assert {p.split("/")[0] for p in changed} >= {".cursor", ".claude", ".github", ".devin"}
    assert "AGENTS.md" in changed and ".rulesync.yaml" in changed


def test_hand_edits_to_a_file_and_a_block_are_conflicts_until_forced(project: Path) -> None:
    rulesync(project, "apply", check=0)
    rule = project / ".claude/rules/logging.md"
    rule.write_text("my own logging rule\n")
    agents = project / "AGENTS.md"
    edited = agents.read_bytes().replace(b"## Project rules", b"## Our rules")
    agents.write_bytes(edited)
    head = git(project, "rev-parse", "HEAD")

    proc = rulesync(project, "phase", "advanced", check=1)
    assert ".claude/rules/logging.md: was edited since rulesync wrote it" in proc.stdout
    assert "AGENTS.md (rulesync's block): was edited since rulesync wrote it" in proc.stdout
    assert "exclude: [logging]" in proc.stderr
    assert rule.read_text() == "my own logging rule\n" and agents.read_bytes() == edited
    # Everything else moved to the new tier, in one commit.
    assert git(project, "rev-list", "--count", f"{head.strip()}..HEAD").strip() == "1"
    assert (project / ".devin/rules/ci-cd.md").exists()

    forced = rulesync(project, "apply", "--force", check=0)
    saved = [line.split("saved your version to ", 1)[1] for line in forced.stdout.splitlines()
             if "saved your version to" in line]  # fmt: skip
    assert sorted(Path(s).name for s in saved) == ["AGENTS.md", "logging.md"]
    assert {Path(s).read_bytes() for s in saved} == {b"my own logging rule\n", edited}
    managed_on_disk(project, expected("advanced"))
    rulesync(project, "check", check=0)


def test_deleted_files_and_a_removed_block_come_back(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".devin/rules/testing.md").unlink()
    (project / ".github/copilot-instructions.md").unlink()
    (project / ".cursor/rules/logging.mdc").unlink()
    agents = project / "AGENTS.md"
    agents.write_text("# written by hand, the block deleted\n")
    assert rulesync(project, "check", check=1).stdout.startswith("drift")
    rulesync(project, "apply", check=0)
    managed_on_disk(project, expected("basic"))
    assert agents.read_bytes().endswith(b"-->\n\n# written by hand, the block deleted\n")


def test_user_files_beside_managed_ones_are_never_touched(project: Path) -> None:
    mine = {
        ".claude/rules/our-style.md": b"our own claude rule\n",
        ".claude/settings.json": b"{}\n",
        ".cursor/rules/team.mdc": b"---\nalwaysApply: true\n---\nours\n",
        ".devin/rules/own.md": b"---\ntrigger: manual\n---\nours\n",
        ".github/workflows/ci.yml": b"on: push\n",
        ".github/instructions/ours.instructions.md": b"---\napplyTo: '**'\n---\nours\n",
    }
    for path, data in mine.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_bytes(data)
    git(project, "add", *mine)
    git(project, "commit", "-q", "-m", "our own files")
    rulesync(project, "apply", check=0)
    rulesync(project, "phase", "enterprise", check=0)
    rulesync(project, "phase", "basic", check=0)
    write_marker(project, "basic", ["cursor"])
    rulesync(project, "apply", check=0)
    for path, data in mine.items():
        assert (project / path).read_bytes() == data, path
    touched = git(project, "log", "--author=rulesync", "--name-only", "--format=").split()
    assert not set(mine) & set(touched)
    assert git(project, "status", "--porcelain") == ""


def test_a_users_agents_md_keeps_every_byte_outside_the_block(repo: Path) -> None:
    (repo / "AGENTS.md").write_bytes(USER_AGENTS)
    write_marker(repo, "basic", ["cursor", "agents"])
    git(repo, "add", "AGENTS.md", ".rulesync.yaml")
    git(repo, "commit", "-q", "-m", "our AGENTS.md")
    rulesync(repo, "apply", check=0)
    written = (repo / "AGENTS.md").read_bytes()
    # First, then one blank line, then the user's bytes as they were: Codex cuts AGENTS.md
    # from the end, and the tier's Always rules are what it must keep.
    assert written.startswith(b"<!-- rulesync:begin")
    assert written.endswith(b"<!-- rulesync:end -->\n\n" + USER_AGENTS)
    assert head_bytes(repo, "AGENTS.md") == written
    rulesync(repo, "phase", "advanced", check=0)
    assert (repo / "AGENTS.md").read_bytes().endswith(b"-->\n\n" + USER_AGENTS)
    # The user writes below, uncommitted: kept, and left out of rulesync's commit.
    with (repo / "AGENTS.md").open("ab") as handle:
        handle.write(b"\r\nAdded below.\r\n")
    rulesync(repo, "phase", "basic", check=0)
    after = (repo / "AGENTS.md").read_bytes()
    assert after.endswith(USER_AGENTS + b"\r\nAdded below.\r\n")
    assert b"Added below." not in head_bytes(repo, "AGENTS.md")
    assert git(repo, "status", "--porcelain") == " M AGENTS.md\n"
    # Removing the target takes the block away and gives the user's bytes back, exactly.
    (repo / "AGENTS.md").write_bytes(after.replace(b"\r\nAdded below.\r\n", b""))
    write_marker(repo, "basic", ["cursor"])
    rulesync(repo, "apply", check=0)
    assert (repo / "AGENTS.md").read_bytes() == USER_AGENTS
    assert git(repo, "status", "--porcelain") == ""


def test_removing_targets_removes_their_files_and_blocks_in_one_commit(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".github/workflows").mkdir()
    (project / ".github/workflows/ci.yml").write_text("on: push\n")
    write_marker(project, "basic", ["cursor", "devin"])
    proc = rulesync(project, "apply", check=0)
    assert "- AGENTS.md (rulesync's block)" in proc.stdout
    want = expected("basic", ["cursor", "devin"])
    managed_on_disk(project, want)
    # AGENTS.md and copilot-instructions.md held only rulesync's block: they go.
    assert target_files(project) - {".github/workflows/ci.yml"} == set(want.files)
    # Their folders go, with the folders above them left empty; a user's file keeps its own.
    assert not (project / ".claude").exists()
    assert not (project / ".github/instructions").exists()
    assert (project / ".github/workflows/ci.yml").read_text() == "on: push\n"
    assert len(rulesync_commits(project)) == 2
    # Without AGENTS.md, Devin Desktop's folder gets the two Always rules it read there.
    assert rulesync_commits(project)[0].startswith(
        "rulesync: targets cursor, agents, claude, copilot, devin → cursor, devin (+2 ~0 -"
    )
    gone = set(git(project, "show", "--diff-filter=D", "--name-only", "--format=", "HEAD").split())
    assert {"AGENTS.md", ".github/copilot-instructions.md"} <= gone
    assert {p for p in gone if p.startswith(".claude/")} == {
        p for p in expected("basic").files if p.startswith(".claude/")
    }
    assert json.loads((project / MANIFEST).read_text())["targets"] == ["cursor", "devin"]
    write_marker(project, "basic", ["cursor"])
    rulesync(project, "apply", check=0)
    assert not (project / ".devin").exists()
    assert (project / ".cursor/rules").is_dir()


def _old_manifest(library: str, tier: str, rules: dict[str, str]) -> bytes:
    """A manifest exactly as the version before targets wrote it (`.cursor/rules`, by name)."""
    doc: dict[str, object] = {"version": 1, "library": library, "tier": tier}
    doc["rules"] = dict(sorted(rules.items()))
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def synced_by_the_previous_version(repo: Path) -> dict[str, bytes]:
    """A project as the version before targets left it: `.cursor/rules` with its manifest
    there, all committed; returns the rule files."""
    (repo / ".rulesync.yaml").write_text("phase: basic\nlibrary: default\n")
    rules = {
        f".cursor/rules/{path}": rule.data
        for path, rule in load_library(bundled_root(), "default").resolve("basic").items()
    }
    for path, data in rules.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    hashes = {p.rsplit("/", 1)[1]: hashlib.sha256(d).hexdigest() for p, d in rules.items()}
    (repo / ".cursor/rules/.rulesync-manifest.json").write_bytes(
        _old_manifest("default", "basic", hashes)
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "rulesync: install basic rules (+8)")
    return rules


def test_a_project_synced_by_the_previous_version_upgrades_in_one_commit(repo: Path) -> None:
    rules = synced_by_the_previous_version(repo)
    (repo / ".cursor/rules/logging.mdc").write_text("edited by the user before upgrading\n")
    checked = rulesync(repo, "check", check=1).stdout
    assert checked.startswith("drift")
    assert "the manifest is still at .cursor/rules/.rulesync-manifest.json" in checked
    proc = rulesync(repo, "apply", check=1)
    # The user's edit is still recognised as an edit of rulesync's file: a conflict, kept.
    assert ".cursor/rules/logging.mdc: was edited since rulesync wrote it" in proc.stdout
    assert (
        repo / ".cursor/rules/logging.mdc"
    ).read_text() == "edited by the user before upgrading\n"
    assert not (repo / ".cursor/rules/.rulesync-manifest.json").exists()
    assert rulesync_commits(repo) == ["rulesync: update basic rules (manifest)"]
    changed = git(repo, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(filter(None, changed)) == [
        "A\t.rulesync-manifest.json",
        "D\t.cursor/rules/.rulesync-manifest.json",
    ]
    manifest = json.loads((repo / MANIFEST).read_text())
    assert manifest["files"] == {p: hashlib.sha256(d).hexdigest() for p, d in rules.items()}
    for path, data in rules.items():
        if not path.endswith("logging.mdc"):
            assert (repo / path).read_bytes() == data
    git(repo, "checkout", "--", ".cursor/rules/logging.mdc")
    rulesync(repo, "check", check=0)
    assert rulesync(repo, "apply", check=0).stdout.startswith("in sync")


def test_the_upgrade_and_new_targets_land_in_one_commit_without_conflict(repo: Path) -> None:
    rules = synced_by_the_previous_version(repo)
    write_marker(repo, "basic")
    rulesync(repo, "apply", check=0)
    assert len(rulesync_commits(repo)) == 1
    managed_on_disk(repo, expected("basic"))
    for path, data in rules.items():
        assert (repo / path).read_bytes() == data
    assert not (repo / ".cursor/rules/.rulesync-manifest.json").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_a_project_outside_git_upgrades_and_loses_the_old_lock(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / ".cursor/rules").mkdir(parents=True)
    (folder / ".rulesync.yaml").write_text("phase: basic\nlibrary: default\n")
    rules = load_library(bundled_root(), "default").resolve("basic")
    for path, rule in rules.items():
        (folder / ".cursor/rules" / path).write_bytes(rule.data)
    hashes = {p: hashlib.sha256(r.data).hexdigest() for p, r in rules.items()}
    (folder / ".cursor/rules/.rulesync-manifest.json").write_bytes(
        _old_manifest("default", "basic", hashes)
    )
    (folder / ".cursor/.rulesync.lock").write_bytes(b"")  # that version's lock outside git
    rulesync(folder, "apply", check=0)
    assert not (folder / ".cursor/rules/.rulesync-manifest.json").exists()
    assert not (folder / ".cursor/.rulesync.lock").exists()
    assert (folder / MANIFEST).is_file()
    assert rulesync(folder, "check", check=0).stdout.startswith("in sync")


def test_an_old_lock_that_is_no_file_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / ".cursor/rules").mkdir(parents=True)
    (folder / ".rulesync.yaml").write_text("phase: basic\nlibrary: default\n")
    (folder / ".cursor/rules/.rulesync-manifest.json").write_bytes(
        _old_manifest("default", "basic", {})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep\n")
    (folder / ".cursor/.rulesync.lock").symlink_to(elsewhere)
    rulesync(folder, "apply", check=0)
    assert (folder / ".cursor/.rulesync.lock").is_symlink()
    assert elsewhere.read_text() == "keep\n"


def test_check_diff_and_status_cover_every_target(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".devin/rules/logging.md").write_text("edited\n")
    (project / ".github/instructions/testing.instructions.md").unlink()
    agents = project / "AGENTS.md"
    agents.write_bytes(agents.read_bytes().replace(b"## Project rules", b"## Edited"))
    doc = json.loads(rulesync(project, "check", "--json", check=1).stdout)
    assert doc["targets"] == list(ALL)
    actions = {a["path"]: a["action"] for a in doc["actions"]}
    assert actions == {
        ".devin/rules/logging.md": "conflict",
        ".github/instructions/testing.instructions.md": "add",
        "AGENTS.md": "conflict",
    }
    diff = rulesync(project, "diff", check=1).stdout
    assert "+++ b/.github/instructions/testing.instructions.md" in diff
    assert "-edited" in diff and "+## Project rules" in diff and "-## Edited" in diff
    status = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert status["targets"] == list(ALL)
    assert status["blocks"] == sorted(BLOCK_FILES)
    assert set(status["managed"]) == set(expected("basic").files)
    assert sorted(status["conflicts"]) == [".devin/rules/logging.md", "AGENTS.md"]
    dry = rulesync(project, "apply", "--dry-run", check=1).stdout
    assert "+ .github/instructions/testing.instructions.md" in dry
    assert not (project / ".github/instructions/testing.instructions.md").exists()
    tiers = json.loads(rulesync(project, "tiers", "--json", check=0).stdout)
    assert tiers["targets"] == list(ALL)
    assert (
        "targets:  cursor, agents, claude, copilot, devin"
        in rulesync(project, "status", check=0).stdout
    )


def test_an_unknown_target_is_refused_naming_the_valid_ones(project: Path) -> None:
    write_marker(project, "basic", ["cursor", "vim"])
    proc = rulesync(project, "apply", check=2)
    assert "unknown target `vim`" in proc.stderr
    assert "agents, claude, cline, copilot, cursor, devin, kiro, windsurf" in proc.stderr
    assert ".rulesync.yaml:3" in proc.stderr
    assert not (project / ".cursor").exists() and not (project / MANIFEST).exists()


def test_the_users_default_targets_apply_where_the_marker_names_none(project: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("targets: [cursor, claude]\n")
    (project / ".rulesync.yaml").write_text("phase: basic\nlibrary: default\n")
    rulesync(project, "apply", check=0)
    assert target_files(project) == set(expected("basic", ["cursor", "claude"]).files)
    config.write_text("targets: [cursor, emacs]\n")
    assert "unknown target `emacs`" in rulesync(project, "apply", check=2).stderr


def test_a_symlinked_target_folder_leading_out_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / ".claude").symlink_to(outside)
    proc = rulesync(project, "apply", check=2)
    assert ".claude: is a symlink" in proc.stderr
    assert list(outside.iterdir()) == []
    assert not (project / ".cursor").exists()


def test_nested_rule_folders_keep_their_paths_and_exclude_takes_them(
    repo: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    (library / "basic" / "frontend").mkdir(parents=True)
    (library / "tiers.yaml").write_text("version: 1\ntiers:\n  - name: basic\n")
    (library / "basic" / "frontend" / "react.mdc").write_text(
        "---\ndescription: React\nglobs: src/**/*.tsx\nalwaysApply: false\n---\nUse hooks.\n"
    )
    (library / "basic" / "general.mdc").write_text("---\nalwaysApply: true\n---\nBe kind.\n")
    (library / "basic" / "frontend" / ".react.mdc.swp").write_text("editor dropping")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"library: {library}\n")
    (repo / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, claude, devin]\n")
    rulesync(repo, "apply", check=0)
    assert (repo / ".cursor/rules/frontend/react.mdc").read_bytes() == (
        library / "basic" / "frontend" / "react.mdc"
    ).read_bytes()
    assert (repo / ".claude/rules/frontend/react.md").exists()
    assert (repo / ".devin/rules/frontend__react.md").exists()
    (repo / ".rulesync.yaml").write_text(
        "phase: basic\ntargets: [cursor, claude, devin]\nexclude: [frontend/react]\n"
    )
    rulesync(repo, "apply", check=0)
    assert target_files(repo) == {
        ".cursor/rules/general.mdc",
        ".claude/rules/general.md",
        ".devin/rules/general.md",
    }
    # The folders the rule left empty go too.
    assert not (repo / ".cursor/rules/frontend").exists()


def test_rendered_front_matter_reads_as_yaml(project: Path) -> None:
    rulesync(project, "phase", "enterprise", check=0)
    checked = 0
    for path in sorted(target_files(project)):
        data = (project / path).read_text(encoding="utf-8")
        if path.startswith((".claude/", ".github/instructions/", ".devin/")) and data.startswith(
            "---\n"
        ):
            front = yaml.safe_load(data.split("---\n", 2)[1])
            assert isinstance(front, dict), path
            checked += 1
    assert checked >= 10


def test_doctor_warns_when_git_ignores_a_targets_files(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No user service manager, as in a container: the doctor's service check stays quiet.
    runtime = tmp_path / "empty-runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    (project / ".rulesync.yaml").write_text(
        "phase: basic\nlibrary: default\ntargets: [cursor, claude]\ncommit: false\n"
    )
    (project / ".gitignore").write_text(".claude/\n")
    rulesync(project, "init", check=0)
    doc = json.loads(rulesync(tmp_path, "doctor", "--json", check=0).stdout)
    (warning,) = [c for c in doc["checks"] if c["name"] == "project"]
    assert warning["level"] == "WARN"
    count = len(expected("basic", ["claude"]).files)
    assert f"git ignores {count} file(s) rulesync writes for claude" in warning["message"]
    assert "check-ignore -v .claude/rules/" in warning["fix"]
    (project / ".gitignore").write_text("")
    doc = json.loads(rulesync(tmp_path, "doctor", "--json", check=0).stdout)
    assert [c for c in doc["checks"] if c["name"] == "project"] == []


def test_the_service_moves_every_target_in_one_commit(project: Path, daemon: Daemon) -> None:
    rulesync(project, "init", check=0)  # applies and registers
    daemon.start()
    mark = daemon.mark()
    write_marker(project, "advanced")
    daemon.wait_event("sync.applied", after=mark, project=str(project), phase="advanced")
    assert len(rulesync_commits(project)) == 2
    want = expected("advanced")
    managed_on_disk(project, want)
    assert head_files(project) >= {p for p in want.files if "ci-cd" in p}
    assert {p.split("/")[0] for p in head_files(project)} >= {".cursor", ".claude", ".devin"}
    # Drift in a target's folder and in AGENTS.md is seen and repaired.
    mark = daemon.mark()
    (project / ".devin/rules/ci-cd.md").unlink()
    daemon.wait_event("sync.applied", after=mark, project=str(project))
    assert (project / ".devin/rules/ci-cd.md").read_bytes() == want.files[".devin/rules/ci-cd.md"]
    mark = daemon.mark()
    (project / "AGENTS.md").write_text("# only mine now\n")
    daemon.wait_event("sync.applied", after=mark, project=str(project))
    assert (project / "AGENTS.md").read_bytes().endswith(b"-->\n\n# only mine now\n")
    rulesync(project, "check", check=0)


def test_a_project_may_write_only_other_assistants_files(tmp_path: Path) -> None:
    first, second = make_repo(tmp_path / "a"), make_repo(tmp_path / "b")
    write_marker(first, "basic", ["claude"])
    write_marker(second, "basic", ["copilot"])
    rulesync(first, "apply", check=0)
    rulesync(second, "apply", check=0)
    assert target_files(first) == set(expected("basic", ["claude"]).files)
    assert target_files(second) == set(expected("basic", ["copilot"]).files) | {
        ".github/copilot-instructions.md"
    }


def test_a_tools_size_limit_exceeded_is_warned_and_still_written(
    repo: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    (library / "basic").mkdir(parents=True)
    (library / "tiers.yaml").write_text("version: 1\ntiers:\n  - name: basic\n")
    (library / "basic" / "huge.mdc").write_text(
        "---\nalwaysApply: true\n---\n" + "Keep every function small.\n" * 1500
    )
    # Devin Desktop reads an Always rule from AGENTS.md; a scoped one is in its own folder.
    (library / "basic" / "wide.mdc").write_text(
        "---\nglobs: src/**\n---\n" + "Keep every module small.\n" * 1500
    )
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"library: {library}\n")
    (repo / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, agents, devin]\n")
    proc = rulesync(repo, "apply", check=0)
    assert "warning: AGENTS.md: rulesync's block is" in proc.stderr
    assert "warning: .devin/rules/wide.md:" in proc.stderr
    assert (repo / ".devin/rules/wide.md").stat().st_size > 12_000
    assert not (repo / ".devin/rules/huge.md").exists()
    # Cursor reads AGENTS.md too: the Always rule is loaded twice there, said once.
    assert "warning: Cursor loads 1 rule(s) twice (.cursor/rules and AGENTS.md): huge" in (
        proc.stderr
    )
    # Codex cuts the whole AGENTS.md: the rule listed after the huge one is past the cut.
    assert "warning: Codex cuts AGENTS.md before wide" in proc.stderr
    doc = json.loads(rulesync(repo, "check", "--json", check=0).stdout)
    assert len(doc["warnings"]) == 4
    # Every command that prints a plan says the same warnings in its JSON.
    for command in (["diff", "--json"], ["apply", "--dry-run", "--json"], ["apply", "--json"]):
        assert json.loads(rulesync(repo, *command, check=0).stdout)["warnings"] == doc["warnings"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[]", "targets must be a list of target names, not an empty list"),
        ("{cursor: true}", "targets must be a list of target names, not a mapping"),
        ("[cursor, 3]", "targets item 2: unknown target `3`; valid targets: agents"),
    ],
)
def test_a_targets_setting_that_is_not_a_list_of_names_is_refused(
    project: Path, value: str, expected: str
) -> None:
    (project / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: default\ntargets: {value}\n")
    proc = rulesync(project, "apply", check=2)
    assert f".rulesync.yaml:3: {expected}" in proc.stderr
    assert not (project / MANIFEST).exists()
