"""Hostile libraries inside a cloned project: a repository's marker may name a folder of its
own as the rules library, so that folder is crafted too.

The user's clone holds private things the repository never carried: a git-ignored `.env` and
a remote URL with a token in `.git/config`, both with one unique string. The repository tries
to have them copied into `.cursor/rules` and committed (symlinked rules, `library: .`, a library
holding a repository of its own, a git-ignored rule file, a symlinked tier folder). Every
command refuses with one line naming the file, writes nothing, commits nothing, and the unique
string shows up in no file of the work tree, no git object, no output and no log line.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support.env import snapshot
from support.repos import git, make_library, make_repo, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import MARKER, error_line_problems, head, write_user_config
from tests.reliability.hostile import COMMANDS, check_cases

SECTION = "Hostile libraries inside the project"
LIBRARY = "team-rules"


@dataclass(frozen=True)
class Private:
    """The user's private files in the clone, all carrying `secret`."""

    secret: str
    planted: tuple[str, ...]


@dataclass(frozen=True)
class LibraryCase:
    """One crafted repository: what it commits, what the user has in the clone, and the words
    the refusal must hold."""

    name: str
    craft: Callable[[Path], None]
    names: tuple[str, ...]
    in_clone: Callable[[Path, str], tuple[str, ...]] | None = None


def _links_to_private_files(lib: Path, up: str) -> None:
    os.symlink(f"{up}.env", lib / "basic" / "env.mdc")
    os.symlink(f"{up}.git/config", lib / "basic" / "git-config.mdc")


def _project_is_the_library(repo: Path) -> None:
    make_library(repo)
    _links_to_private_files(repo, "../")
    (repo / MARKER).write_text("phase: basic\nlibrary: .\n")


def _library_with_links_out(repo: Path) -> None:
    _links_to_private_files(make_library(repo / LIBRARY), "../../")
    (repo / MARKER).write_text(f"phase: basic\nlibrary: {LIBRARY}\n")


def _library_with_its_own_repository(repo: Path) -> None:
    lib = make_library(repo / LIBRARY)
    # Inside the library by path: a library that is itself a checkout has its token here.
    os.symlink("../.git/config", lib / "basic" / "git-config.mdc")
    (repo / MARKER).write_text(f"phase: basic\nlibrary: {LIBRARY}\n")


def _nested_checkout(clone: Path, secret: str) -> tuple[str, ...]:
    lib = clone / LIBRARY
    git(lib, "init", "-q")
    git(lib, "config", "remote.origin.url", f"https://dev:{secret}@example.invalid/rules.git")
    return (f"{LIBRARY}/.git/config",)


def _ignored_rule_file(repo: Path) -> None:
    make_library(repo / LIBRARY)
    (repo / ".gitignore").write_text(f".env\n{LIBRARY}/basic/notes.mdc\n")
    (repo / MARKER).write_text(f"phase: basic\nlibrary: {LIBRARY}\n")


def _plant_ignored_rule(clone: Path, secret: str) -> tuple[str, ...]:
    rel = f"{LIBRARY}/basic/notes.mdc"
    (clone / rel).write_text(f"---\ndescription: notes\n---\ntoken {secret}\n")
    return (rel,)


def _symlinked_tier_folder(repo: Path) -> None:
    lib = make_library(repo / LIBRARY)
    (lib / "private").mkdir()
    (lib / "private" / "README.md").write_text("kept out of git\n")
    for rule in (lib / "basic").iterdir():
        rule.rename(lib / "private" / rule.name)
    (lib / "basic").rmdir()
    os.symlink("private", lib / "basic")
    (repo / ".gitignore").write_text(f".env\n{LIBRARY}/private/*.mdc\n")
    (repo / MARKER).write_text(f"phase: basic\nlibrary: {LIBRARY}\n")


def _plant_in_private_tier(clone: Path, secret: str) -> tuple[str, ...]:
    rel = f"{LIBRARY}/private/token.mdc"
    (clone / rel).write_text(f"---\ndescription: token\n---\n{secret}\n")
    # The committed rules vanished with the ignore pattern; the user has them locally.
    for name in ("logging.mdc", "privacy.mdc", "testing.mdc"):
        (clone / LIBRARY / "private" / name).write_text("---\ndescription: x\n---\n")
    return (rel,)


CASES = (
    LibraryCase(
        "`library: .` with rules linked to `.env` and `.git/config`",
        _project_is_the_library,
        ("the project itself",),
    ),
    LibraryCase(
        "a library inside the project with rules linked to `.env` and `.git/config`",
        _library_with_links_out,
        ("env.mdc",),
    ),
    LibraryCase(
        "a library inside the project holding `.git` (its own checkout)",
        _library_with_its_own_repository,
        (LIBRARY, "`.git`"),
        in_clone=_nested_checkout,
    ),
    LibraryCase(
        "a git-ignored rule file in a library inside the project",
        _ignored_rule_file,
        ("notes.mdc", "ignores"),
        in_clone=_plant_ignored_rule,
    ),
    LibraryCase(
        "a symlinked tier folder in a library inside the project",
        _symlinked_tier_folder,
        (f"{LIBRARY}/basic", "symlink"),
        in_clone=_plant_in_private_tier,
    ),
)


def clone_with_private_files(tmp_path: Path, case: LibraryCase, index: int) -> tuple[Path, Private]:
    """The crafted repository cloned, and the user's private files planted in the clone."""
    origin = make_repo(tmp_path / f"origin-{index}")
    (origin / ".gitignore").write_text(".env\n")
    case.craft(origin)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "a hostile project")
    clone = tmp_path / f"clone-{index}"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "config", "user.name", "Dev User")
    git(clone, "config", "user.email", "dev@example.com")
    secret = f"TOKEN-{uuid.uuid4().hex}"
    (clone / ".env").write_text(f"API_TOKEN={secret}\n")
    git(clone, "config", "remote.origin.url", f"https://dev:{secret}@example.invalid/p.git")
    planted = (".env",)
    if case.in_clone is not None:
        planted += case.in_clone(clone, secret)
    return clone, Private(secret, planted)


def leaks(clone: Path, private: Private, outputs: list[str]) -> list[str]:
    """Every place the private string reached that is not one of the user's own files."""
    found = []
    secret = private.secret.encode()
    for rel, data in snapshot(clone).items():
        if secret in data and rel not in private.planted and not rel.startswith(f"{LIBRARY}/.git"):
            found.append(f"the private string was copied into {rel}")
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=clone, capture_output=True
    ).stdout
    if secret in objects:
        found.append("the private string is in a git object")
    if any(private.secret in out for out in outputs):
        found.append("the private string reached rulesync's output")
    for variable in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        for rel, data in snapshot(Path(os.environ[variable])).items():
            if secret in data:
                found.append(f"the private string reached {variable}/{rel} (a log line?)")
    return found


def case_problems(clone: Path, case: LibraryCase, private: Private) -> list[str]:
    problems: list[str] = []
    before = snapshot(clone)
    commit = head(clone)
    outputs = []
    for command in COMMANDS:
        label = " ".join(command)
        proc = rulesync(clone, "-v", *command, timeout=60)
        outputs.append(proc.stdout + proc.stderr)
        if proc.returncode != 2:
            problems.append(f"`rulesync {label}` exited {proc.returncode}, wanted 2")
        # -v adds log lines on stderr; the error is the line rulesync prints last.
        last = [line for line in proc.stderr.splitlines() if line.startswith("rulesync:")][-1:]
        problems += [f"{label}: {p}" for p in error_line_problems("\n".join(last), *case.names)]
    if snapshot(clone) != before:
        problems.append("the work tree changed")
    if head(clone) != commit:
        problems.append("rulesync made a commit")
    return problems + leaks(clone, private, outputs)


def test_a_library_inside_the_project_never_copies_a_private_file(
    tmp_path: Path, figures: Figures
) -> None:
    write_user_config(make_library(tmp_path / "user-library"))

    def problems_of(index: int, case: LibraryCase) -> list[str]:
        clone, private = clone_with_private_files(tmp_path, case, index)
        return case_problems(clone, case, private)

    detail = "`git clone`d; -v " + ", ".join(" ".join(c) for c in COMMANDS)
    check_cases(figures, SECTION, CASES, problems_of, detail)
