"""Hostile libraries served from git (Hypothesis, derandomized), and the service beside one.

Each example serves, by `file://` URL, a library repository mixing what a hostile or careless
library owner can put in git's objects: symlinks (to a private file outside, to `/`, a tier
folder that is a link), a submodule entry, a rule holding hidden characters, a rule over the
file cap, a blob that unpacks to megabytes, more files than the sync may touch, a name with
terminal escapes, a brace bomb in a glob, a broken `tiers.yaml`. Then apply, check, diff,
status, explain and `apply --force` run in-process on a project following it, and the
invariants are checked as properties:

- every command ends in 0, 1 or 2, never an internal error;
- no byte of the planted secret in any output, in any file rulesync wrote (the project, its
  state folder, the library cache) or in any git object of the project;
- no escape character from the library reaches the terminal;
- the library cache holds no symlink, no file over the cap, no revision over the caps;
- in the project, nothing changes outside the shapes of name the targets own, and no hidden
  character reaches a written file.

A second trial starts the real service under the unit's memory limit with one project
following a library that holds a 400 MiB blob of zeros and two healthy projects: the healthy
ones keep syncing and the service stays up. RULESYNC_HOSTILE_LIBRARIES sets the count.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulesync.remote import cache_root
from support.daemon import Daemon, config_file, new_project, set_phase, wait_commits
from support.gitserver import git_daemon
from support.repos import git, make_library, make_repo, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import write_user_config
from tests.reliability.test_hostile_generator import _allowed, _entries, run_commands

SECTION = "Hostile repositories"
EXAMPLES = int(os.environ.get("RULESYNC_HOSTILE_LIBRARIES", "150"))
SECRET = b"SECRET-5be1c0a9d2"
CAPS = {"max_file_bytes": 16384, "max_sync_bytes": 400000, "max_sync_files": 400}
HAZARDS = (
    "symlink-rule",
    "symlink-root",
    "symlink-tier",
    "submodule",
    "hidden",
    "big",
    "bomb",
    "many",
    "escape-name",
    "brace-bomb",
    "broken-tiers",
)
HIDDEN = "\u200b\U000e0049\U000e0047\U000e004e"  # a zero-width space, then tag characters
GOOD = b"---\nalwaysApply: true\n---\nWrite clear code.\n"


@dataclass(frozen=True)
class Hostile:
    """One hostile library, as drawn: its hazards and whether the project targets them all."""

    hazards: frozenset[str]
    every_target: bool


@st.composite
def hostile_libraries(draw: st.DrawFn) -> Hostile:
    hazards = draw(st.frozensets(st.sampled_from(HAZARDS), min_size=1, max_size=4))
    return Hostile(hazards, draw(st.booleans()))


def _stream(files: dict[str, tuple[str, bytes]]) -> bytes:
    """A fast-import stream of one commit on `main` holding `files` (path → mode, data)."""
    out = [b"commit refs/heads/main\n", b"committer Owner <o@example.com> 1700000000 +0000\n"]
    out.append(b"data 7\nlibrary\n")
    for path, (mode, data) in sorted(files.items()):
        quoted = path.encode("utf-8").replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        quoted = quoted.replace(b"\x1b", b"\\033")
        if mode == "160000":
            out.append(b'M 160000 %s "%s"\n' % (data, quoted))
        else:
            out.append(
                b'M %s inline "%s"\ndata %d\n%s\n' % (mode.encode(), quoted, len(data), data)
            )
    return b"".join(out) + b"\n"


def build_library(base: Path, secret: Path, recipe: Hostile) -> str:
    """A bare repository holding the hostile library; its file:// URL."""
    tiers = b"tiers:\n  - name: basic\n"
    files: dict[str, tuple[str, bytes]] = {"basic/style.mdc": ("100644", GOOD)}
    found = recipe.hazards
    if "symlink-rule" in found:
        files["basic/leak.mdc"] = ("120000", str(secret).encode())
    if "symlink-root" in found:
        files["basic/root.mdc"] = ("120000", b"/")
    if "symlink-tier" in found:
        tiers += b"  - name: linked\n    extends: basic\n"
        files["linked"] = ("120000", str(secret.parent).encode())
    if "submodule" in found:
        files["basic/sub.mdc"] = ("160000", b"0123456789abcdef0123456789abcdef01234567")
    if "hidden" in found:
        files["basic/hidden.mdc"] = ("100644", f"---\n---\nBe kind.{HIDDEN}\n".encode())
    if "big" in found:
        files["basic/big.mdc"] = ("100644", b"---\n---\n" + b"x" * (CAPS["max_file_bytes"] + 1))
    if "bomb" in found:
        files["assets/zeros.bin"] = ("100644", bytes(4 * 1024 * 1024))
    if "many" in found:
        for i in range(CAPS["max_sync_files"] + 10):
            files[f"basic/many-{i:03}.mdc"] = ("100644", b"---\n---\nOne of many.\n")
    if "escape-name" in found:
        files["basic/\x1b[31mred.mdc"] = ("100644", b"---\n---\nRed.\n")
    if "brace-bomb" in found:
        globs = "".join("{a,b}" for _ in range(22))
        files["basic/braces.mdc"] = ("100644", f"---\nglobs: {globs}\n---\nBraces.\n".encode())
    if "broken-tiers" in found:
        tiers = b"tiers: [basic\n"
    files["tiers.yaml"] = ("100644", tiers)
    bare = base / "library.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=_stream(files), check=True)
    return f"file://{bare}"


def _cache_problems() -> list[str]:
    found = []
    for path in cache_root().rglob("*"):
        rel = path.relative_to(cache_root())
        if "mirror.git" in rel.parts:
            continue
        if path.is_symlink():
            found.append(f"the library cache holds a symlink: {rel}")
        elif path.is_file() and path.stat().st_size > CAPS["max_file_bytes"]:
            found.append(f"the library cache holds a file over the cap: {rel}")
        elif path.is_file() and SECRET in path.read_bytes():
            found.append(f"the library cache holds the secret: {rel}")
    return found


def problems_of(base: Path, secret: Path, recipe: Hostile) -> list[str]:
    url = build_library(base, secret, recipe)
    targets = "[cursor, agents, claude, copilot, devin, windsurf, kiro, cline]"
    write_user_config(Path(url), **CAPS, **({"targets": targets} if recipe.every_target else {}))
    project = make_repo(base / "project")
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "marker")
    before = _entries(project)
    outputs, codes = run_commands(project)
    found: list[str] = []
    for code, text in zip(codes, outputs, strict=True):
        data = text.encode("utf-8", "surrogateescape")
        if code not in (0, 1, 2):
            found.append(f"exit {code}: {text[-300:]!r}")
        if SECRET in data:
            found.append("the secret was printed")
        if b"\x1b" in data:
            found.append("an escape character reached the terminal")
    after = _entries(project)
    for rel in sorted(set(before) | set(after)):
        kinds = {before.get(rel, ("", b""))[0], after.get(rel, ("", b""))[0]}
        if before.get(rel) != after.get(rel) and not _allowed(rel, kinds):
            found.append(f"{rel} changed, outside every target's shapes")
        kind, data = after.get(rel, ("", b""))
        if kind == "file" and SECRET in data:
            found.append(f"the secret was written to {rel}")
        if kind == "file" and HIDDEN.encode() in data:
            found.append(f"hidden characters were written to {rel}")
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=project,
        capture_output=True,
        check=False,
    ).stdout
    if SECRET in objects:
        found.append("the secret was committed")
    state = Path(os.environ["XDG_STATE_HOME"]) / "rulesync"
    for path in state.rglob("*") if state.exists() else ():
        if path.is_file() and not path.is_symlink() and SECRET in path.read_bytes():
            found.append(f"the secret was written to {path}")
    return found + _cache_problems()


@pytest.mark.slow
def test_hostile_git_served_libraries_break_no_invariant(tmp_path: Path, figures: Figures) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "private.txt"
    secret.write_bytes(SECRET + b"\n")
    runs: list[Hostile] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile_libraries())
    def prop(recipe: Hostile) -> None:
        runs.append(recipe)
        with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
            try:
                problems = problems_of(Path(tmp), secret, recipe)
            finally:
                for folder in (cache_root(), Path(os.environ["XDG_STATE_HOME"]) / "rulesync"):
                    shutil.rmtree(folder, ignore_errors=True)
        assert not problems, (recipe, problems)

    prop()
    assert secret.read_bytes() == SECRET + b"\n"
    seen = {h: sum(h in r.hazards for r in runs) for h in HAZARDS}
    assert all(seen.values()), seen  # every hazard was drawn
    figures.add(
        SECTION,
        "generated hostile git-served libraries",
        trials=len(runs),
        failures=0,
        detail=(
            "apply, check, diff, status, explain and apply --force on a project following each: "
            "no secret read, printed or committed, no symlink or over-cap file in the library "
            "cache, no escape character printed, no hidden character written"
        ),
        counts={f"with {h}": n for h, n in seen.items()},
    )


@pytest.mark.slow
def test_the_service_under_its_memory_limit_keeps_syncing_beside_a_library_bomb(
    tmp_path: Path, daemon: Daemon, figures: Figures
) -> None:
    # A library whose one commit holds 200 MiB of zeros: a pack of a few hundred KiB, served
    # by a real `git daemon` (its own processes are the server's, not the service's).
    work = tmp_path / "bomb-work"
    make_library(work)
    with (work / "zeros.bin").open("wb") as out:
        for _ in range(200):
            out.write(bytes(1024 * 1024))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.name=o", "-c", "user.email=o@e", "commit", "-q", "-m", "bomb")
    served = tmp_path / "served"
    served.mkdir()
    git(tmp_path, "clone", "-q", "--bare", str(work), str(served / "bomb.git"))
    (work / "zeros.bin").unlink()
    with git_daemon(served) as prefix:
        _service_beside_a_bomb(tmp_path, daemon, f"{prefix}/bomb.git")
    figures.add(
        SECTION,
        "the service under MemoryMax=512M beside a 200 MiB library bomb",
        trials=1,
        failures=0,
        detail="the bomb's project fails with the cap named; the two healthy projects sync",
    )


def _service_beside_a_bomb(tmp_path: Path, daemon: Daemon, url: str) -> None:
    healthy = [new_project(tmp_path / f"healthy{i}") for i in range(2)]
    with config_file().open("a", encoding="utf-8") as config:
        config.write(f"libraries: ['{url}']\n")
    hostile = make_repo(tmp_path / "hostile")
    (hostile / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {url}\n")
    git(hostile, "add", "-A")
    git(hostile, "commit", "-q", "-m", "marker")
    rulesync(hostile, "projects", "add", str(hostile), check=0)
    limit = 512 * 1024 * 1024  # the unit's MemoryMax

    def unit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    daemon.start(preexec_fn=unit_memory)
    for project in healthy:
        wait_commits(project, 1)
        set_phase(project, "advanced")
    for project in healthy:
        wait_commits(project, 2)
    failed = daemon.wait_event("sync.failed", project=str(hostile))
    assert "zeros.bin" in failed.get("error", "") and "max_file_bytes" in failed["error"]
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert not (hostile / ".cursor").exists()
