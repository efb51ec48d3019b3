"""A generator of hostile repositories (Hypothesis, derandomized: CI sees the same ones).

Each example builds a small project mixing symlinks (in and out of the project, to `.git`, to
private files) on every step of every target's folders and at rule paths, forged manifests and
rulesync blocks, the user's own files at rule-shaped paths, odd rule names in a library inside
the project (case and Unicode-normalisation pairs, reserved and long names), oversized and
degenerate files (FIFOs, folders, files where folders go), then runs apply, check, diff,
status, explain and `apply --force` in-process (the real CLI entry point, real git, real
files) and checks the invariants as properties:

- no byte of a planted secret (a private file outside, `.env`, a token in `.git/config`) in
  any output, in any file rulesync wrote (project, state folder, backups) or in any git object;
- no file outside the shapes of name the targets own is created, changed or deleted, nothing
  in `.git` changes but git's own records of rulesync's commits, and nothing outside changes;
- no symlink is followed: every link is left as it was, and so is what it points at;
- none of the user's bytes is lost: a planted file that changed is found in a backup;
- every command ends in 0, 1 or 2, never an internal error.

A failure shrinks to a minimal repository. RULESYNC_HOSTILE_EXAMPLES sets the count (CI's
slow suite runs the default).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulesync.cli import main
from rulesync.targets import TARGETS as TARGETS_BY_NAME
from rulesync.targets import owner
from rulesync.targets.blocks import BEGIN, END
from support.repos import make_library, make_repo
from tests.reliability.conftest import Figures
from tests.reliability.harness import write_user_config

SECTION = "Hostile repositories"
EXAMPLES = int(os.environ.get("RULESYNC_HOSTILE_EXAMPLES", "2000"))
COMMANDS = (("apply",), ("check",), ("diff",), ("status",), ("explain",), ("apply", "--force"))
MANIFEST = ".rulesync-manifest.json"
MARKER = ".rulesync.yaml"
SECRET = b"SECRET-9f2c41d7e0b8"
USER_TAG = b"USER-OWN-"
# Small caps, so an oversized file costs kilobytes to build.
CAPS = {"max_file_bytes": 16384, "max_sync_bytes": 400000, "max_sync_files": 400}
TARGETS = ("cursor", "agents", "claude", "copilot", "devin", "windsurf")
# Every folder on the way to a target's files, and a nested rule folder.
FOLDERS = (
    ".cursor",
    ".cursor/rules",
    ".cursor/rules/frontend",
    ".claude",
    ".claude/rules",
    ".github",
    ".github/instructions",
    ".devin",
    ".devin/rules",
    ".windsurf",
    ".windsurf/rules",
)
RULE_PATHS = (
    ".cursor/rules/logging.mdc",
    ".cursor/rules/mine.mdc",
    ".cursor/rules/frontend/react.mdc",
    ".claude/rules/logging.md",
    ".claude/rules/privacy.md",
    ".github/instructions/testing.instructions.md",
    ".devin/rules/logging.md",
    ".windsurf/rules/privacy.md",
    "AGENTS.md",
    ".github/copilot-instructions.md",
)
# Paths a forged manifest may name: rule-shaped ones, and ones no target owns.
CLAIMS = (
    *RULE_PATHS,
    ".cursor/rules/HEAD",
    ".cursor/rules/config",
    ".claude/rules/.env",
    ".env",
    ".git/HEAD",
    ".git/config",
    "../outside/private.txt",
    "README.md",
    ".cursor/rules/a\nb.mdc",
)
LINK_TARGETS = ("..", "../..", "../.git", ".git", "OUTSIDE", "PRIVATE", "GITCONFIG", "ENV")
ODD_NAMES = (
    ("Foo.mdc", "foo.mdc"),
    (unicodedata.normalize("NFC", "café.mdc"), unicodedata.normalize("NFD", "café.mdc")),
    ("CON.mdc",),
    ("aux.mdc",),
    (f"{'a' * 120}/{'b' * 130}.mdc",),
    ("x" * 251 + ".mdc",),
    ("trailing.mdc.",),
)


@dataclass
class Recipe:
    """One hostile repository, as drawn."""

    targets: tuple[str, ...]
    phase: str
    commit: bool
    library: str  # "user", "inside", "outside"
    odd: tuple[str, ...] = ()
    links: list[tuple[str, str]] = field(default_factory=list)  # path → target kind
    user_files: list[tuple[str, int]] = field(default_factory=list)
    claims: list[tuple[str, str, str]] = field(default_factory=list)  # path, kind, hash source
    forged_block: str | None = None  # "around" the user's text, "broken" markers
    oversized: list[str] = field(default_factory=list)
    degenerate: list[tuple[str, str]] = field(default_factory=list)


@st.composite
def recipes(draw: st.DrawFn) -> Recipe:
    targets = tuple(draw(st.sets(st.sampled_from(TARGETS), min_size=1, max_size=4)))
    return Recipe(
        targets=tuple(t for t in TARGETS if t in targets),
        phase=draw(st.sampled_from(("basic", "advanced", "enterprise", "bogus"))),
        commit=draw(st.booleans().map(lambda b: b and draw(st.integers(0, 3)) == 0)),
        library=draw(st.sampled_from(("user", "user", "inside", "outside"))),
        odd=draw(st.sampled_from(((), *ODD_NAMES))),
        links=draw(
            st.lists(
                st.tuples(st.sampled_from(FOLDERS + RULE_PATHS), st.sampled_from(LINK_TARGETS)),
                max_size=3,
                unique_by=lambda x: x[0],
            )
        ),
        user_files=draw(
            st.lists(
                st.tuples(st.sampled_from(RULE_PATHS), st.integers(0, 3)),
                max_size=3,
                unique_by=lambda x: x[0],
            )
        ),
        claims=draw(
            st.lists(
                st.tuples(
                    st.sampled_from(CLAIMS),
                    st.sampled_from(("files", "blocks", "pending")),
                    st.sampled_from(("user", "secret", "head", "library", "zero")),
                ),
                max_size=4,
                unique_by=lambda x: x[0],
            )
        ),
        forged_block=draw(st.sampled_from((None, None, "around", "broken"))),
        oversized=draw(st.lists(st.sampled_from(RULE_PATHS), max_size=1)),
        degenerate=draw(
            st.lists(
                st.tuples(
                    st.sampled_from((*FOLDERS[:2], *RULE_PATHS)),
                    st.sampled_from(("fifo", "folder", "file")),
                ),
                max_size=1,
            )
        ),
    )


@dataclass
class World:
    """What every example shares: the user's library, a template repository, the outside."""

    base: Path
    library: Path
    template: Path
    outside: Path

    @property
    def private(self) -> Path:
        return self.outside / "private.txt"


def _entries(root: Path, *, skip_git: bool = True) -> dict[str, tuple[str, bytes]]:
    """Every entry under `root` by relative path, never following a link: (kind, content)."""
    found: dict[str, tuple[str, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        if skip_git and rel_folder.split(os.sep)[0] == ".git":
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.normpath(os.path.join(rel_folder, name))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path).encode())
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", b"")
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    found[rel] = ("file", handle.read())
            else:
                found[rel] = ("other", b"")
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return found


OWNED_FOLDERS = tuple(o for t in TARGETS_BY_NAME.values() for o in t.owns if o.endswith("/"))


def _allowed(rel: str, kinds: set[str]) -> bool:
    """A path rulesync may create, change or delete: a target's shape of name, the manifest,
    or (a folder) one on the way to or inside a target's folders."""
    if rel == MANIFEST or owner(rel) is not None:
        return True
    return kinds <= {"dir", ""} and any(
        o.startswith(rel + "/") or rel.startswith(o) for o in OWNED_FOLDERS
    )


def _link_text(world: World, project: Path, path: str, kind: str) -> str:
    depth = path.count("/")
    up = "../" * depth
    return {
        "OUTSIDE": str(world.outside),
        "PRIVATE": str(world.private),
        "GITCONFIG": f"{up}.git/config",
        "ENV": f"{up}.env",
    }.get(kind, kind)


def _user_bytes(index: int, path: str) -> bytes:
    text = f"---\ndescription: mine {index}\nalwaysApply: true\n---\n"
    return text.encode() + USER_TAG + f"{index}:{path}\n".encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(world: World, root: Path, recipe: Recipe) -> Path:
    """The project `recipe` describes, in `root`."""
    project = root / "project"
    shutil.copytree(world.template, project, symlinks=True)
    (project / ".env").write_bytes(b"TOKEN=" + SECRET + b"\n")
    marker = [f"phase: {recipe.phase}", f"targets: [{', '.join(recipe.targets)}]"]
    if not recipe.commit:
        marker.append("commit: false")
    if recipe.library == "inside":
        lib = project / "team-rules"
        shutil.copytree(world.library, lib)
        for name in recipe.odd:
            (lib / "basic" / name).parent.mkdir(parents=True, exist_ok=True)
            (lib / "basic" / name).write_text(f"---\ndescription: odd {name!r}\n---\nOdd.\n")
        marker.append("library: team-rules")
    elif recipe.library == "outside":
        marker.append(f"library: {world.outside}")
    (project / MARKER).write_text("\n".join(marker) + "\n")
    planted: dict[str, bytes] = {}
    for index, (path, _) in enumerate(recipe.user_files):
        data = _user_bytes(index, path)
        if recipe.forged_block == "around" and path in (
            "AGENTS.md",
            ".github/copilot-instructions.md",
        ):
            data = BEGIN + b"\n" + data + END + b"\n"
        elif recipe.forged_block == "broken" and path == "AGENTS.md":
            data = data + END + b"\n"
        _write(project, path, data)
        planted[path] = data
    for path in recipe.oversized:
        _write(project, path, b"\n" * (CAPS["max_file_bytes"] + 1))
    claims: dict[str, dict[str, str]] = {"files": {}, "blocks": {}, "pending": {}}
    for path, kind, source in recipe.claims:
        data = {
            "user": planted.get(path, b""),
            "secret": world.private.read_bytes(),
            "head": (project / ".git" / "HEAD").read_bytes(),
            "library": (world.library / "basic" / "logging.mdc").read_bytes(),
            "zero": b"",
        }[source]
        if kind == "blocks" and source == "user":
            start = data.find(BEGIN)
            if start >= 0:
                data = data[data.index(b"\n", start) + 1 : data.rindex(END)]
        claims[kind][path] = _sha(data)
    if recipe.claims:
        # The library the project follows, as its clone was made with: a manifest naming
        # another is refused as a mismatch before anything else is looked at.
        followed = {"user": str(world.library), "inside": "team-rules"}
        library = followed.get(recipe.library, str(world.outside))
        doc = {"version": 2, "library": library, "tier": "basic", "targets": list(recipe.targets)}
        claims["blocks"] = {p: s for p, s in claims["blocks"].items() if p not in claims["files"]}
        (project / MANIFEST).write_text(json.dumps({**doc, **claims}))
    for path, kind in recipe.degenerate:
        if not _plain_parent(project, path):
            continue
        _clear(project / path)
        if kind == "fifo":
            os.mkfifo(project / path)
        elif kind == "folder":
            (project / path).mkdir()
        else:
            (project / path).write_bytes(b"not a folder\n")
    for path, kind in recipe.links:
        if not _plain_parent(project, path):
            continue
        _clear(project / path)
        os.symlink(_link_text(world, project, path, kind), project / path)
    return project


def _plain_parent(project: Path, path: str) -> bool:
    """Make the folders above `path` (never through a link or past a file); False when one
    is a link or not a folder, so nothing is planted through it."""
    here = project
    for part in path.split("/")[:-1]:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            return False
        if not here.exists():
            here.mkdir()
    return True


def _write(project: Path, path: str, data: bytes) -> None:
    if _plain_parent(project, path) and not (project / path).is_symlink():
        _clear(project / path)
        (project / path).write_bytes(data)


def _clear(path: Path) -> None:
    """Remove whatever is at `path` (a link itself, never what it points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def run_commands(project: Path) -> tuple[list[str], list[int]]:
    """Each command through the real CLI entry point, in-process; outputs and exit codes."""
    outputs: list[str] = []
    codes: list[int] = []
    here = os.getcwd()
    for command in COMMANDS:
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                codes.append(main(["-C", str(project), *command]))
        finally:
            os.chdir(here)
        outputs.append(out.getvalue() + err.getvalue())
    return outputs, codes


def _files_under(folder: Path) -> Iterator[tuple[Path, bytes]]:
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path, path.read_bytes()


def problems_of(
    world: World, root: Path, recipe: Recipe, counts: dict[str, int] | None = None
) -> list[str]:
    project = build(world, root, recipe)
    before = _entries(project)
    git_before = {n: (project / ".git" / n).read_bytes() for n in ("HEAD", "config")}
    outside_before = _entries(world.outside, skip_git=False)
    outputs, codes = run_commands(project)
    if counts is not None:
        key = {0: "apply exit 0", 1: "apply exit 1", 2: "apply exit 2"}.get(codes[0], "other")
        counts[key] = counts.get(key, 0) + 1
    found: list[str] = []
    for command, code, text in zip(COMMANDS, codes, outputs, strict=True):
        if code not in (0, 1, 2):
            found.append(f"`{' '.join(command)}` exited {code}: {text[-300:]!r}")
        if SECRET in text.encode("utf-8", "surrogateescape"):
            found.append(f"`{' '.join(command)}` printed the secret")
    after = _entries(project)
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) == after.get(rel):
            continue
        if before.get(rel, ("", b""))[0] == "link" and owner(rel) is None:
            # A link at a target's path is replaced by `apply --force` (its text saved first);
            # any other is never touched.
            found.append(f"the symlink {rel} was changed or removed")
        elif not _allowed(rel, {before.get(rel, ("", b""))[0], after.get(rel, ("", b""))[0]}):
            found.append(f"{rel} changed, outside every target's shapes")
    if _entries(world.outside, skip_git=False) != outside_before:
        found.append("something outside the project changed")
    for name, data in git_before.items():
        path = project / ".git" / name
        if path.is_symlink() or not path.is_file() or path.read_bytes() != data:
            found.append(f".git/{name} changed")
    state = Path(os.environ["XDG_STATE_HOME"])
    written = [
        *_files_under(state),
        *((project / r, v[1]) for r, v in after.items() if v[0] == "file"),
    ]
    for path, data in written:
        if SECRET in data and path != project / ".env":
            found.append(f"the secret was written to {path}")
    backups = {data for path, data in _files_under(state / "rulesync" / "backups")}
    for rel, (kind, data) in before.items():
        if kind != "file" or USER_TAG not in data or after.get(rel) == (kind, data):
            continue
        still = after.get(rel, ("", b""))[1]
        tagged = data[data.index(USER_TAG) :]
        if tagged not in still and data not in backups:
            found.append(f"the user's {rel} was changed with no backup")
    if recipe.commit:
        objects = subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch"],
            cwd=project,
            capture_output=True,
            check=False,
        ).stdout
        if SECRET in objects:
            found.append("the secret was committed")
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("generator")
    library = make_library(base / "library")
    template = make_repo(base / "template")
    with open(template / ".git" / "config", "a") as config:
        config.write(f'[http]\n\textraheader = "Authorization: Bearer {SECRET.decode()}"\n')
    outside = base / "outside"
    outside.mkdir()
    (outside / "private.txt").write_bytes(SECRET + b"\n")
    (outside / "rules").mkdir()
    (outside / "rules" / "keep.mdc").write_bytes(b"the outside's own file\n")
    return World(base, library, template, outside)


@pytest.mark.slow
def test_generated_hostile_repositories_break_no_invariant(world: World, figures: Figures) -> None:
    config = write_user_config(world.library, **CAPS)
    assert config.exists()
    runs: list[int] = []
    counts: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(recipes())
    def prop(recipe: Recipe) -> None:
        runs.append(1)
        with tempfile.TemporaryDirectory(dir=world.base) as tmp:
            try:
                problems = problems_of(world, Path(tmp), recipe, counts)
            finally:
                shutil.rmtree(Path(os.environ["XDG_STATE_HOME"]) / "rulesync", ignore_errors=True)
        assert not problems, problems

    try:
        prop()
    except BaseException:
        figures.add(SECTION, "generated hostile repositories", trials=len(runs), failures=1)
        raise
    figures.add(
        SECTION,
        "generated hostile repositories",
        trials=len(runs),
        failures=0,
        counts=counts,
        detail=(
            "Hypothesis, derandomized; symlinks on every step to the root, .git, outside and "
            "private files, forged manifests and blocks, the user's files at rule paths, odd "
            "names, oversized and degenerate files; apply, check, diff, status, explain, "
            "apply --force in-process; properties: no secret in output, files, backups or "
            "git objects; nothing outside the targets' shapes changed; no link followed; "
            "no user bytes lost; exit 0/1/2"
        ),
    )
