"""Hostile repositories, crafted: what lies outside the project, and each case's recipe.

Shared by test_hostile.py (the real `rulesync` on each clone) and test_service.py (the service
keeps serving every other project while these are registered).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.env import snapshot
from support.repos import git, make_library, make_repo, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    MANIFEST_REL,
    MARKER,
    RULES,
    error_line_problems,
    head,
    write_user_config,
)

SECTION = "Hostile repositories"
COMMANDS = (("apply",), ("check",), ("diff",), ("status",), ("apply", "--force"))


@dataclass
class Outside:
    """What lies outside the project: a sentinel folder with a private file and a library
    that is not trusted (both carry a unique string), and the user's own trusted library."""

    root: Path
    secret: bytes
    user_library: Path

    @property
    def sentinel(self) -> Path:
        return self.root / "sentinel"

    @property
    def private_file(self) -> Path:
        return self.sentinel / "private.txt"

    @property
    def bait_library(self) -> Path:
        return self.sentinel / "library"

    def watched(self) -> dict[str, bytes]:
        return {
            **{f"sentinel/{k}": v for k, v in snapshot(self.sentinel).items()},
            **{f"library/{k}": v for k, v in snapshot(self.user_library).items()},
        }


def make_outside(root: Path) -> Outside:
    """The sentinel folder, the private file, an untrusted bait library carrying the secret,
    and the user's own library (trusted: it is their default)."""
    secret = f"PRIVATE-{uuid.uuid4().hex}".encode()
    found = Outside(root, secret, make_library(root / "library"))
    write_user_config(found.user_library)
    found.sentinel.mkdir(parents=True)
    found.private_file.write_bytes(secret + b"\n")
    (found.sentinel / "rules").mkdir()
    (found.sentinel / "rules" / "keep.mdc").write_bytes(b"the sentinel's own file\n")
    bait = make_library(found.bait_library)
    for rule in bait.rglob("*.mdc"):
        rule.write_bytes(rule.read_bytes() + secret + b"\n")
    return found


@dataclass
class Case:
    """One hostile repository: how to craft it, what to do after the clone, what to expect."""

    name: str
    craft: Callable[[Path, Outside], None]
    names: tuple[str, ...]
    after_clone: Callable[[Path, Outside], None] | None = None
    exit_code: int = 2
    exit_codes: dict[str, int] = field(default_factory=dict)


def _marker(text: str | bytes) -> Callable[[Path, Outside], None]:
    def craft(repo: Path, outside: Outside) -> None:
        data = text.encode() if isinstance(text, str) else text
        (repo / MARKER).write_bytes(data)

    return craft


def _rules_symlink(repo: Path, outside: Outside) -> None:
    (repo / MARKER).write_text("phase: basic\n")
    (repo / ".cursor").mkdir()
    os.symlink(outside.sentinel / "rules", repo / RULES)


def _cursor_symlink(repo: Path, outside: Outside) -> None:
    (repo / MARKER).write_text("phase: basic\n")
    os.symlink(outside.sentinel, repo / ".cursor")


def _rules_to_git_dir(repo: Path, outside: Outside) -> None:
    (repo / MARKER).write_text("phase: basic\n")
    (repo / ".cursor").mkdir()
    os.symlink("../.git", repo / RULES)
    head = (repo / ".git" / "HEAD").read_bytes()
    library = str(outside.user_library)  # the library the clone was made with
    doc = {"version": 2, "library": library, "tier": "basic", "targets": ["cursor"]}
    doc |= {"files": {f"{RULES.as_posix()}/HEAD.mdc": _sha(head)}, "blocks": {}}
    (repo / MANIFEST_REL).write_text(json.dumps(doc))


def _claude_rules_to_root(repo: Path, outside: Outside) -> None:
    (repo / MARKER).write_text("phase: basic\ntargets: [cursor, claude]\n")
    (repo / ".claude").mkdir()
    os.symlink("..", repo / ".claude" / "rules")
    library = str(outside.user_library)
    doc = {"version": 2, "library": library, "tier": "basic", "targets": ["cursor", "claude"]}
    doc |= {"files": {".claude/rules/README.md": "0" * 64}, "blocks": {}}
    (repo / MANIFEST_REL).write_text(json.dumps(doc))


def _managed_rule_symlink(repo: Path, outside: Outside) -> None:
    (repo / MARKER).write_text("phase: basic\n")
    (repo / RULES).mkdir(parents=True)
    names = ("logging.mdc", "privacy.mdc", "testing.mdc")
    lib = outside.user_library / "basic"
    rules = {n: _sha((lib / n).read_bytes()) for n in names}
    for name in names[1:]:
        (repo / RULES / name).write_bytes((lib / name).read_bytes())
    os.symlink(outside.private_file, repo / RULES / "logging.mdc")
    # The manifest of a clone made with the user's own library.
    doc = {"version": 1, "library": str(outside.user_library), "tier": "basic", "rules": rules}
    (repo / MANIFEST_REL).write_text(json.dumps(doc))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hostile_manifest(name: str) -> Callable[[Path, Outside], None]:
    def craft(repo: Path, outside: Outside) -> None:
        (repo / MARKER).write_text("phase: basic\n")
        (repo / RULES).mkdir(parents=True)
        doc = {"version": 1, "library": "x", "tier": "basic", "rules": {name: "0" * 64}}
        (repo / MANIFEST_REL).write_text(json.dumps(doc))

    return craft


def _library_with_rule(name: str) -> Callable[[Path, Outside], None]:
    def craft(repo: Path, outside: Outside) -> None:
        lib = make_library(repo / "team-rules")
        (lib / "basic" / name).write_bytes(b"---\ndescription: hostile name\n---\n")
        (repo / MARKER).write_text("phase: basic\nlibrary: team-rules\n")

    return craft


def _marker_symlink(repo: Path, outside: Outside) -> None:
    (repo / "settings.yaml").write_text("phase: basic\n")
    os.symlink("settings.yaml", repo / MARKER)


def _marker_folder(repo: Path, outside: Outside) -> None:
    (repo / MARKER).mkdir()
    (repo / MARKER / "phase").write_text("basic\n")


def _fifo_marker(clone: Path, outside: Outside) -> None:
    (clone / MARKER).unlink()
    os.mkfifo(clone / MARKER)


def _non_utf8_manifest(repo: Path, outside: Outside) -> None:
    (repo / MARKER).write_text("phase: basic\n")
    (repo / RULES).mkdir(parents=True)
    (repo / MANIFEST_REL).write_bytes(b'{"version": 1, "tier": "b\xe4sic", "rules": {}}')


def _bait_relative(repo: Path, outside: Outside) -> None:
    relative = os.path.relpath(outside.bait_library, repo.parent / "clone-x")
    (repo / MARKER).write_text(f"phase: basic\nlibrary: {relative}\n")


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\nphase: basic\n"


CASES = (
    Case("`.cursor/rules` is a symlink to a folder outside", _rules_symlink, (".cursor/rules",)),
    Case("`.cursor` is a symlink to a folder outside", _cursor_symlink, (".cursor",)),
    Case(
        "`.cursor/rules` is a symlink to `../.git`, the manifest claiming HEAD",
        _rules_to_git_dir,
        (".cursor/rules", "symlink"),
    ),
    Case(
        "`.claude/rules` is a symlink to the project root, the manifest claiming a file there",
        _claude_rules_to_root,
        (".claude/rules", "symlink"),
    ),
    Case(
        "a managed rule replaced by a symlink to a private file",
        _managed_rule_symlink,
        ("logging.mdc",),
        exit_code=1,
        exit_codes={"status": 0, "apply --force": 0},
    ),
    Case("marker `library: /etc`", _marker("phase: basic\nlibrary: /etc\n"), (MARKER, "/etc")),
    Case(
        "marker `library: ../../..`", _marker("phase: basic\nlibrary: ../../..\n"), (MARKER, "../")
    ),
    Case("marker naming an untrusted library outside", _bait_relative, (MARKER, "library")),
    Case(
        "a 50 MB marker",
        _marker(b"phase: basic\n" + b"# padding padding padding\n" * (2 * 1024 * 1024)),
        (MARKER, "bytes"),
    ),
    Case(
        "a YAML bomb (billion laughs) in the marker", _marker(_billion_laughs()), (MARKER, "alias")
    ),
    Case("a marker that is a folder", _marker_folder, (MARKER,)),
    Case("a marker that is a symlink", _marker_symlink, (MARKER, "symlink")),
    Case(
        "a marker that is a FIFO",
        _marker("phase: basic\n"),
        (MARKER, "regular file"),
        after_clone=_fifo_marker,
    ),
    Case("a marker with non-UTF-8 bytes", _marker(b"phase: b\xe4sic\n"), (MARKER, "UTF-8")),
    Case("a manifest with non-UTF-8 bytes", _non_utf8_manifest, (MANIFEST_REL,)),
    Case(
        "a manifest naming `../../../victim.mdc`", _hostile_manifest("../../../x.mdc"), ("x.mdc",)
    ),
    Case("a manifest naming a file with a newline", _hostile_manifest("a\nb.mdc"), ("a\\nb.mdc",)),
    Case("a library rule named `x..y.mdc`", _library_with_rule("x..y.mdc"), ("x..y.mdc",)),
    Case(
        "a library rule whose name holds a newline",
        _library_with_rule("bad\nname.mdc"),
        ("bad\\nname.mdc",),
    ),
    Case(
        "a library rule whose name is not UTF-8",
        _library_with_rule(os.fsdecode(b"caf\xe9.mdc")),
        ("team-rules/basic", "UTF-8"),
    ),
)


def craft_and_clone(tmp_path: Path, case: Case, index: int, outside: Outside) -> Path:
    origin = make_repo(tmp_path / f"origin-{index}")
    case.craft(origin, outside)
    git(origin, "add", "-A", "--force")
    git(origin, "commit", "-q", "-m", "a hostile project")
    clone = tmp_path / f"clone-{index}"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "config", "user.name", "Dev User")
    git(clone, "config", "user.email", "dev@example.com")
    if case.after_clone is not None:
        case.after_clone(clone, outside)
    return clone


def case_problems(clone: Path, case: Case, outside: Outside) -> list[str]:
    problems: list[str] = []
    before = outside.watched()
    commit = head(clone)
    outputs = []
    for command in COMMANDS:
        label = " ".join(command)
        try:
            proc = rulesync(clone, *command, timeout=30)
        except subprocess.TimeoutExpired:
            problems.append(f"`rulesync {label}` hung")
            continue
        outputs.append(proc.stdout + proc.stderr)
        wanted = case.exit_codes.get(label, case.exit_code)
        if proc.returncode != wanted:
            problems.append(f"`rulesync {label}` exited {proc.returncode}, wanted {wanted}")
        if wanted == 2:
            problems += [f"{label}: {p}" for p in error_line_problems(proc.stderr, *case.names)]
        elif "Traceback" in proc.stderr:
            problems.append(f"{label}: a traceback reached the user")
        elif label == "apply":
            named = proc.stdout + proc.stderr
            problems += [f"{label}: does not name {n}" for n in case.names if n not in named]
    if outside.watched() != before:
        problems.append("something outside the project changed")
    if any(outside.secret.decode() in out for out in outputs):
        problems.append("the private string reached rulesync's output")
    state = Path(os.environ["XDG_STATE_HOME"])
    for folder in (clone, state):
        for rel, data in snapshot(folder).items():
            if outside.secret in data:
                problems.append(f"the private string was copied into {folder / rel}")
    history = subprocess.run(
        ["git", "log", "--all", "-p", "--format=%H %an"], cwd=clone, capture_output=True
    ).stdout
    if outside.secret in history:
        problems.append("the private string was committed")
    if case.exit_code == 2 and head(clone) != commit:
        problems.append("rulesync made a commit")
    return problems


def check_cases(
    figures: Figures,
    section: str,
    cases: Sequence[Any],
    problems_of: Callable[[int, Any], list[str]],
    detail: str,
) -> None:
    """Run every case (one trial each, whatever the commands it runs), record its row, and
    fail naming each case that went wrong."""
    failures = []
    for index, case in enumerate(cases):
        problems = problems_of(index, case)
        figures.add(section, case.name, trials=1, failures=1 if problems else 0, detail=detail)
        if problems:
            failures.append(f"{case.name}: " + "; ".join(problems))
    assert not failures, "\n".join(failures)
