"""rulesync's git access: where the repository is, whether it is busy, the one runner every
git command goes through, and the few reads (HEAD's files, the log, a library's tree).

State checks read the git dir directly (fast, no subprocess). Every git command, in a project
or in a library's mirror, goes through `Runner`, which lets nothing from the repository or the
inherited environment run or redirect it: no hooks (unless the user opts in for the commit),
no fsmonitor, no filter programs, no `GIT_DIR`/`GIT_INDEX_FILE`/`GIT_WORK_TREE` from a caller.
"""

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from rulesync.errors import Deferred, GitError, GitTimeout, RulesyncError
from rulesync.fsutil import read_regular

if TYPE_CHECKING:
    import subprocess

    from rulesync.config import Config

# Set by `rulesync.logs.configure` at the debug level (`-vv`, `log_level: debug`): records
# each git command rulesync runs, with its exit status (None: started, still running) and its
# milliseconds. None costs nothing.
TRACE: Callable[[Sequence[str], int | None, float], None] | None = None


def _traced(args: Sequence[str], status: int | None, started: float) -> None:
    if TRACE is not None:
        TRACE(args, status, (time.perf_counter() - started) * 1000)


# Inherited variables git may keep: they say how the user reaches their servers and which
# config files are the user's own. Every other GIT_* is dropped: git exports GIT_DIR,
# GIT_INDEX_FILE and GIT_WORK_TREE into hooks (a `rulesync check` run from a pre-commit hook
# would read or write the wrong index), and GIT_CONFIG_PARAMETERS / GIT_CONFIG_COUNT carry
# configuration that could undo the settings below.
_KEPT_ENVIRONMENT = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_NO_VERIFY",
        "GIT_ALLOW_PROTOCOL",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
    }
)
# Set for every command: untranslated messages (errors are parsed), no prompt, pager or editor
# in a background process, and paths taken literally (a rule named `[a].mdc` is no glob).
_FIXED_ENVIRONMENT = {
    "LC_ALL": "C",
    "LANGUAGE": "C",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_EDITOR": ":",
    "GIT_LITERAL_PATHSPECS": "1",
}
# Configuration that would run a program named by the repository's config. Passed through
# GIT_CONFIG_COUNT/KEY/VALUE (the same scope as `-c`, which outranks every config file), so a
# name holding `=` cannot be misparsed, and git's own child processes inherit it.
_HYGIENE = {
    "core.hooksPath": os.devnull,
    "core.fsmonitor": "false",
    "core.askPass": "",
}
# A filter driver is disabled by emptying its programs (verified on git 2.39: an empty
# clean/smudge/process runs nothing; `required=false` lets the content pass unfiltered).
_FILTER_KEYS = ("clean", "smudge", "process")
# What `Runner.settings` reads (an extended regular expression over the lowercased keys).
_SETTINGS = r"^(filter\..+|user\.(name|email))$"
_SETTINGS_ARGS = ("config", "-z", "--get-regexp", _SETTINGS)
# Commands that never convert between work tree and index as rulesync calls them (blobs by
# id, refs, trees, the bare mirror): they need no look-up of the filter drivers first.
_NEVER_FILTERS = frozenset(
    {
        "--version",
        "cat-file",
        "check-ignore",
        "config",
        "fast-import",
        "fetch",
        "init",
        "log",
        "ls-files",
        "ls-tree",
        "merge-base",
        "rev-parse",
        "update-ref",
    }
)


class GitDirs(NamedTuple):
    """A work tree's top folder and its git dir (a worktree's own, for state files)."""

    top: Path
    git_dir: Path


def find_git(start: Path) -> GitDirs | None:
    """The repository holding `start`, found by walking up to `.git` (folder or gitfile)."""
    current = Path(os.path.abspath(start))
    for folder in (current, *current.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return GitDirs(folder, dot_git)
        if dot_git.is_file():
            try:
                text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                target = Path(text.removeprefix("gitdir:").strip())
                return GitDirs(folder, target if target.is_absolute() else folder / target)
            return None
    return None


_BUSY = (
    ("MERGE_HEAD", "a merge is in progress (finish or abort it)"),
    ("rebase-merge", "a rebase is in progress (finish or abort it)"),
    ("rebase-apply", "a rebase or `git am` is in progress (finish or abort it)"),
    ("CHERRY_PICK_HEAD", "a cherry-pick is in progress (finish or abort it)"),
    ("REVERT_HEAD", "a revert is in progress (finish or abort it)"),
    ("sequencer", "a cherry-pick or revert sequence is in progress (finish or abort it)"),
    ("BISECT_LOG", "a bisect is in progress (`git bisect reset` ends it)"),
    ("index.lock", "index.lock exists: another git process is working (rulesync never deletes it)"),
)
# The git-dir entries whose appearance or removal changes busy_reason (the service watches them).
BUSY_FILES = (*(name for name, _ in _BUSY), "HEAD")


def busy_reason(dirs: GitDirs) -> str | None:
    """Why committing now would be wrong (merge, rebase, bisect, index.lock, detached HEAD)."""
    for name, reason in _BUSY:
        if os.path.lexists(dirs.git_dir / name):
            return reason
    try:
        head = (dirs.git_dir / "HEAD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "HEAD cannot be read"
    if not head.startswith("ref:"):
        return "HEAD is detached (check out a branch)"
    common = dirs.git_dir
    with contextlib.suppress(OSError):
        pointer = (dirs.git_dir / "commondir").read_text(encoding="utf-8").strip()
        common = dirs.git_dir / pointer
    for lock in (dirs.git_dir / "HEAD.lock", common / f"{head[4:].strip()}.lock"):
        if os.path.lexists(lock):
            return (
                f"{lock} exists: git is moving the branch, or a killed git left it "
                "(remove it if no git runs; rulesync never deletes it)"
            )
    return None


def ensure_not_busy(dirs: GitDirs) -> None:
    """Raise Deferred when the repository is in a state rulesync must not commit into."""
    reason = busy_reason(dirs)
    if reason:
        raise Deferred(f"{dirs.top}: deferred: {reason}")


def clean_environment() -> dict[str, str]:
    """This process's environment for git: inherited GIT_* dropped (but the kept few)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GIT_") or name in _KEPT_ENVIRONMENT
    }
    env.update(_FIXED_ENVIRONMENT)
    return env


def _config_environment(config: Mapping[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


class Runner:
    """git in one folder, for one operation, with nothing from the repository running.

    The filter drivers that any config level defines are read once, before the first command
    that could run one, and emptied for it and every later one. rulesync never asks for
    content diffs or `log -p`, so `diff.<driver>.textconv` and `diff.<driver>.command` never
    run either (an empty textconv is an error in git 2.39, not a way to switch it off).
    """

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._settings: dict[str, str] | None = None
        self._pending: tuple[subprocess.Popen[bytes], float] | None = None

    def _environment(
        self, args: Sequence[str], extra: Mapping[str, str] | None, hooks: bool
    ) -> dict[str, str]:
        config = dict(_HYGIENE)
        if _command(args) not in _NEVER_FILTERS:
            config.update(_filters_off(self.settings()))
        if hooks:
            del config["core.hooksPath"]
        env = clean_environment()
        env.update(_config_environment(config))
        env.update(extra or {})
        return env

    def settings(self) -> dict[str, str]:
        """The configuration rulesync reads here, from every level, in one git process on
        first use: the filter drivers' keys and the user's identity (last value wins)."""
        if self._settings is None:
            self.read_settings_ahead()
            assert self._pending is not None
            process, started = self._pending
            out, _ = process.communicate()
            _traced(_SETTINGS_ARGS, process.returncode, started)
            self._pending = None
            found = {}
            for entry in out.split(b"\0"):
                key, _, value = entry.decode("utf-8", "surrogateescape").partition("\n")
                if key:
                    found[key] = value
            self._settings = found
        return self._settings

    def read_settings_ahead(self) -> None:
        """Start reading `settings` now, in the background (a commit asks for them later)."""
        if self._settings is not None or self._pending is not None:
            return
        import subprocess  # loaded by the first git command: reading git state needs none

        started = time.perf_counter()
        process = subprocess.Popen(
            ["git", *_SETTINGS_ARGS],
            cwd=self.cwd,
            env={**clean_environment(), **_config_environment(_HYGIENE)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._pending = (process, started)

    def output(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        hooks: bool = False,
        timeout: float | None = None,
    ) -> tuple[int, bytes, str]:
        """Run `git args` here: exit status, stdout bytes untouched, stderr. With `timeout`,
        git and every process it started are killed once it has run that many seconds
        (GitTimeout)."""
        import subprocess  # loaded by the first git command: reading git state needs none

        if timeout is not None:
            return self._bounded(args, env, stdin, hooks, timeout)
        environment = self._environment(args, env, hooks)
        started = time.perf_counter()
        proc = subprocess.run(
            ["git", *args],
            cwd=self.cwd,
            env=environment,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        _traced(args, proc.returncode, started)
        return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")

    def _bounded(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None,
        stdin: bytes | None,
        hooks: bool,
        timeout: float,
    ) -> tuple[int, bytes, str]:
        import signal
        import subprocess

        # A session of its own: a fetch's helpers (git-remote-https, ssh) hold its pipes, so
        # killing git alone would leave the read of its output waiting on them.
        started = time.perf_counter()
        process = subprocess.Popen(
            ["git", *args],
            cwd=self.cwd,
            env=self._environment(args, env, hooks),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise GitTimeout(
                f"{self.cwd}: git {_command(args)} did not finish within {timeout:g} s"
            ) from None
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        finally:
            _traced(args, process.returncode, started)
        return process.returncode, out, err.decode("utf-8", "replace")

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        stdin: bytes | None = None,
        hooks: bool = False,
        timeout: float | None = None,
    ) -> str:
        """Run `git args` here and return its output; GitError naming the folder on failure
        (or "" when not `check`)."""
        status, out, err = self.output(*args, env=env, stdin=stdin, hooks=hooks, timeout=timeout)
        if status != 0:
            if not check:
                return ""
            cause = failure_cause(err) or f"exit status {status}"
            raise GitError(f"{self.cwd}: git {_command(args)} failed: {cause}")
        return out.decode("utf-8", "surrogateescape")

    def start(
        self, *args: str, stdin: IO[bytes] | int, stdout: int | None = None
    ) -> "subprocess.Popen[bytes]":
        """Start `git args` here, its stderr kept for `Popen.communicate` (stdout: discarded
        unless given)."""
        import subprocess  # loaded by the first git command: reading git state needs none

        environment = self._environment(args, None, False)
        _traced(args, None, time.perf_counter())
        return subprocess.Popen(
            ["git", *args],
            cwd=self.cwd,
            env=environment,
            stdin=stdin,
            stdout=subprocess.DEVNULL if stdout is None else stdout,
            stderr=subprocess.PIPE,
        )


def _filters_off(settings: Mapping[str, str]) -> dict[str, str]:
    """Configuration emptying the programs of every filter driver `settings` names."""
    drivers = {
        key[len("filter.") : key.rindex(".")]
        for key in settings
        if key.startswith("filter.") and key.count(".") >= 2
    }
    off: dict[str, str] = {}
    for driver in sorted(drivers):
        off.update({f"filter.{driver}.{key}": "" for key in _FILTER_KEYS})
        off[f"filter.{driver}.required"] = "false"
    return off


def _command(args: Sequence[str]) -> str:
    """The git subcommand among `args` (after any `-c name=value` options)."""
    rest = list(args)
    while len(rest) > 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "?"


def failure_cause(stderr: str) -> str:
    """git's own reason: its `fatal:` or `error:` line (which names a lock file), not the
    advice that follows it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (causes or lines or [""])[0]


def run_git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run one git command in `cwd` (any folder) and return its output, stripped."""
    return Runner(cwd).run(*args, env=env).strip()


def show_head_file(top: Path, relpath: str) -> bytes | None:
    """A file's bytes at HEAD (None when HEAD or the file does not exist)."""
    status, out, _ = Runner(top).output("cat-file", "blob", f"HEAD:{relpath}")
    return out if status == 0 else None


_OID_LENGTHS = (40, 64)  # SHA-1 and SHA-256 repositories
_HEX = frozenset("0123456789abcdef")
# packed-refs larger than this is left to git to read.
_MAX_PACKED_REFS = 4 * 1024 * 1024


def _ref_file(path: Path, limit: int) -> str | None:
    """A small file of git's own, read without following a symlink: "" when there is none,
    None when it cannot be read as it should (a symlink, too large, not ASCII)."""
    try:
        return read_regular(path, limit=limit, follow=False).decode("ascii").strip()
    except FileNotFoundError:
        return ""
    except (OSError, RulesyncError, UnicodeDecodeError):
        return None


def _is_oid(text: str) -> bool:
    return len(text) in _OID_LENGTHS and set(text) <= _HEX


def head_id(dirs: GitDirs) -> str | None:
    """HEAD's commit id read from git's own files, without starting git: a detached HEAD, or
    a branch as a loose or packed ref. None for anything else (a linked worktree, an unborn
    branch, another ref store, an odd file), where the caller asks git instead."""
    if (dirs.git_dir / "commondir").exists():
        return None
    head = _ref_file(dirs.git_dir / "HEAD", 1024)
    if not head:
        return None
    if _is_oid(head):
        return head
    ref = head.removeprefix("ref: ")
    parts = ref.split("/")
    if ref == head or parts[0] != "refs" or any(p in ("", ".", "..") for p in parts):
        return None
    loose = _ref_file(dirs.git_dir.joinpath(*parts), 1024)
    if loose != "":  # git reads a loose ref before the packed ones
        return loose if loose is not None and _is_oid(loose) else None
    packed = _ref_file(dirs.git_dir / "packed-refs", _MAX_PACKED_REFS)
    for line in (packed or "").splitlines():
        oid, _, name = line.partition(" ")
        if name == ref:
            return oid if _is_oid(oid) else None
    return None


def head_commit(git: Runner) -> str:
    return git.run("rev-parse", "-q", "--verify", "HEAD", check=False).strip()


def identity(git: Runner) -> tuple[str, str] | None:
    """The user's git identity where `git` runs (user.name, user.email), or None when either
    is unset."""
    settings = git.settings()
    name, email = settings.get("user.name", "").strip(), settings.get("user.email", "").strip()
    return (name, email) if name and email else None


def global_identity() -> tuple[str, str] | None:
    """The user's global git identity (user.name, user.email), or None when either is unset."""
    git = Runner(Path(os.sep))
    name = git.run("config", "--global", "--get", "user.name", check=False).strip()
    email = git.run("config", "--global", "--get", "user.email", check=False).strip()
    return (name, email) if name and email else None


class LogEntry(NamedTuple):
    """One rulesync commit."""

    sha: str
    date: str
    subject: str
    body: str


def rulesync_log(
    top: Path, author_email: str, limit: int | None = None, paths: Sequence[str] = ()
) -> list[LogEntry]:
    """rulesync's commits, newest first (`git log --author=<email>`); with `paths` (relative
    to `top`), only the commits that touch one of them."""
    git = Runner(top)
    if not head_commit(git):
        return []
    args = ["log", f"--author=<{author_email}>", "--format=%H%x1f%aI%x1f%s%x1f%b%x1e"]
    if limit:
        args.append(f"-n{limit}")
    if paths:
        args += ["--", *paths]
    out = git.run(*args)
    entries = []
    for record in out.split("\x1e"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) == 4:
            entries.append(LogEntry(*fields))
    return entries


def git_version() -> str | None:
    """`git --version`, or None when git is not installed."""
    import shutil  # only `doctor` and the service ask; a sync does not

    if not shutil.which("git"):
        return None
    return Runner(Path(os.sep)).run("--version", check=False).strip() or None


def init_repository(path: Path, *, bare: bool = False) -> None:
    """`git init` in the folder `path` (a bare repository with `bare`)."""
    Runner(path).run("init", "--quiet", *(["--bare"] if bare else []))


def set_ref(cwd: Path, ref: str, oid: str, env: Mapping[str, str] | None = None) -> None:
    """Point `ref` at `oid`."""
    Runner(cwd).run("update-ref", ref, oid, env=env)


def is_ancestor(cwd: Path, old: str, new: str, env: Mapping[str, str] | None = None) -> bool:
    """True when `new` descends from `old` (or is it)."""
    status, _, _ = Runner(cwd).output("merge-base", "--is-ancestor", old, new, env=env)
    return status == 0


def commits_between(
    cwd: Path, old: str, new: str, env: Mapping[str, str] | None = None
) -> int | None:
    """How many commits `new` has that `old` does not (None when git cannot say)."""
    count = Runner(cwd).run("rev-list", "--count", f"{old}..{new}", env=env, check=False)
    return int(count) if count.strip().isdigit() else None


def commit_of(cwd: Path, name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The commit a ref, tag or id names in the repository at `cwd` (None: none)."""
    found = Runner(cwd).run(
        "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", env=env, check=False
    )
    return found.strip() or None


def has_commit(cwd: Path, revision: str, env: Mapping[str, str] | None = None) -> bool:
    """True when the repository at `cwd` holds the commit `revision`."""
    status, _, _ = Runner(cwd).output("cat-file", "-e", f"{revision}^{{commit}}", env=env)
    return status == 0


def head_entries(top: Path, paths: Sequence[str], *, recursive: bool = False) -> dict[str, str]:
    """HEAD's blob id for each of `paths` it holds (with `recursive`, for every file under
    the folders named), top-relative; nothing when HEAD does not exist."""
    if not paths:
        return {}
    listed = _ls_tree(top, *(["-r"] if recursive else []), "HEAD", "--", *paths)
    return {e.path: e.oid for e in listed if e.kind == "blob"}


class _Listed(NamedTuple):
    path: str
    kind: str  # "blob" or "tree"
    oid: str
    size: int


def _ls_tree(cwd: Path, *args: str) -> list[_Listed]:
    """`git ls-tree -z` (with `-l`: sizes) parsed; symlinks (120000) and submodules (160000)
    are left out, never followed. Nothing when git cannot list (no such commit)."""
    status, out, _ = Runner(cwd).output("ls-tree", "-z", *args)
    found = []
    for entry in out.split(b"\0") if status == 0 else ():
        meta, _, raw = entry.partition(b"\t")
        mode, kind, oid, size = [*meta.decode("ascii", "replace").split(), "", "", "", ""][:4]
        if kind == "tree" or (kind == "blob" and mode.startswith("100")):
            found.append(_Listed(os.fsdecode(raw), kind, oid, int(size) if size.isdigit() else 0))
    return found


class TreeFile(NamedTuple):
    """A regular file of a commit's tree: its path, blob id and size."""

    path: str
    oid: str
    size: int


def tree_files(cwd: Path, revision: str) -> list[TreeFile]:
    """Every regular file of a commit's tree, with its size, read from git's objects: no
    checkout, so no filter, hook or attribute of the repository applies."""
    listed = _ls_tree(cwd, "-r", "-l", "--full-tree", f"{revision}^{{commit}}")
    if not listed:  # a revision git cannot list is an error here, not an empty library
        Runner(cwd).run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    return [TreeFile(e.path, e.oid, e.size) for e in listed if e.kind == "blob"]


def read_blobs(cwd: Path, files: Sequence[TreeFile]) -> Iterator[tuple[TreeFile, bytes]]:
    """Each file's bytes, one at a time from one `git cat-file --batch`: only one blob is in
    memory at once."""
    if not files:
        return
    import subprocess
    import tempfile

    # The requests come from a file: a pipe written while git's answers fill the other one
    # would stop both.
    with tempfile.TemporaryFile() as request:
        request.write("".join(f"{f.oid}\n" for f in files).encode("ascii"))
        request.seek(0)
        process = Runner(cwd).start("cat-file", "--batch", stdin=request, stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    try:
        for file in files:
            header = process.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                break
            data = process.stdout.read(int(header[2]))
            process.stdout.read(1)  # the newline after each object
            yield file, data
        else:
            return
    finally:
        process.stdout.close()
        err = process.stderr.read()
        process.wait()
    cause = failure_cause(err.decode("utf-8", "replace")) or f"exit status {process.returncode}"
    raise GitError(f"{cwd}: git cat-file failed: {cause}")


class TopPaths:
    """Project-relative paths as git names them from the work tree's top, through the real
    folders: git refuses paths "beyond a symbolic link" (a `.cursor` symlinked to a folder
    inside the project). Each folder is resolved once."""

    def __init__(self, root: Path, top: Path) -> None:
        self._root = root
        self._top = os.path.realpath(top)
        self._folders: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        folder, _, name = path.rpartition("/")
        base = self._folders.get(folder)
        if base is None:
            real = os.path.realpath(self._root / folder)
            base = os.path.relpath(real, self._top).replace(os.sep, "/")
            self._folders[folder] = base
        return name if base == "." else f"{base}/{name}"


def ignored_paths(top: Path, paths: Sequence[str]) -> set[str]:
    """The members of `paths` (relative to the work tree `top`) that git ignores."""
    if not paths:
        return set()
    listing = b"\0".join(os.fsencode(p) for p in paths)
    # Exit 1 means "none ignored"; anything else is a failure, never read as "none".
    # check-ignore takes paths, not pathspecs, and refuses the literal-pathspec switch.
    status, out, err = Runner(top).output(
        "check-ignore", "-z", "--stdin", stdin=listing, env={"GIT_LITERAL_PATHSPECS": "0"}
    )
    if status not in (0, 1):
        raise GitError(f"{top}: git check-ignore failed: {failure_cause(err) or status}")
    return {os.fsdecode(p) for p in out.split(b"\0") if p}


# Readiness evidence: the project's own history, read through the runner (no checkout).


class Authored(NamedTuple):
    """One commit as readiness counts it: its author (`.mailmap` applied) and author time."""

    name: str
    email: str
    time: int


def authored_commits(top: Path, paths: Sequence[str] = ()) -> list[Authored]:
    """Every commit reachable from HEAD (touching `paths` when given), with each author as
    `.mailmap` names them; none in a repository without commits. (No `--since`: git stops
    its walk at the first commit older than the date, and misses newer ones behind it.)"""
    args = ["log", "--use-mailmap", "--format=%aN%x1f%aE%x1f%at", "HEAD", "--", *paths]
    status, out, _ = Runner(top).output(*args)
    if status != 0:
        return []
    found = []
    for line in out.decode("utf-8", "replace").splitlines():
        name, _, rest = line.partition("\x1f")
        email, _, stamp = rest.partition("\x1f")
        if stamp.strip().isdigit():
            found.append(Authored(name, email, int(stamp)))
    return found


def first_commit_time(top: Path) -> int | None:
    """The author time of HEAD's oldest root commit (None without commits)."""
    status, out, _ = Runner(top).output("log", "--max-parents=0", "--format=%at", "HEAD")
    times = [int(t) for t in out.split() if t.isdigit()] if status == 0 else []
    return min(times) if times else None


def commit_times(top: Path) -> list[tuple[str, int]]:
    """(commit, committer time) of every commit reachable from HEAD."""
    status, out, _ = Runner(top).output("log", "--format=%H %ct", "HEAD")
    found = []
    for line in out.decode("ascii", "replace").splitlines() if status == 0 else ():
        commit, _, stamp = line.partition(" ")
        if stamp.isdigit():
            found.append((commit, int(stamp)))
    return found


class TreeEntry(NamedTuple):
    """One entry of a commit's tree: its path (below the folder asked for), whether it is a
    folder, and its blob id (a file's; "" for a folder)."""

    path: str
    folder: bool
    blob: str


def tree_entries(top: Path, commit: str, folder: str = "") -> list[TreeEntry]:
    """Every folder and regular file of `folder` (relative to the work tree's top) in a
    commit's tree; symlinks and submodules are left out, as a walk of the work tree leaves
    them out."""
    spec = f"{commit}:{folder}" if folder else f"{commit}^{{tree}}"
    return [
        TreeEntry(e.path, e.kind == "tree", e.oid if e.kind == "blob" else "")
        for e in _ls_tree(top, "-r", "-t", spec)
    ]


def read_blob(top: Path, blob: str, limit: int) -> bytes | None:
    """A blob's bytes by id (None when it is missing or larger than `limit`)."""
    git = Runner(top)
    status, out, _ = git.output("cat-file", "-s", blob)
    if status != 0 or not out.strip().isdigit() or int(out) > limit:
        return None
    status, out, _ = git.output("cat-file", "blob", blob)
    return out if status == 0 else None


class RemoteRefs(NamedTuple):
    """What `git ls-remote --symref` says of a repository: its branches and its tags (each
    tag's commit, peeled), by short name, and the branch its HEAD names (None when HEAD names
    none, or a branch that does not exist: `git init --bare` names `master` before anyone
    pushed it)."""

    heads: Mapping[str, str]
    tags: Mapping[str, str]
    head: str | None


def ls_remote(url: str, *, timeout: float, env: Mapping[str, str] | None = None) -> RemoteRefs:
    """The branches, tags and default branch of the repository at `url` (no repository of
    ours is needed); GitError when it cannot be reached, GitTimeout when it does not answer."""
    out = Runner(Path(os.sep)).run(
        *_low_speed(timeout),
        "ls-remote",
        "--symref",
        "--",
        url,
        "HEAD",
        "refs/heads/*",
        "refs/tags/*",
        env=env,
        timeout=timeout,
    )
    heads: dict[str, str] = {}
    tags: dict[str, str] = {}
    head_ref = None
    for line in out.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: ") and name == "HEAD":
            head_ref = left.removeprefix("ref: ").strip()
        elif name.startswith("refs/heads/"):
            heads[name.removeprefix("refs/heads/")] = left
        elif name.startswith("refs/tags/"):
            tag = name.removeprefix("refs/tags/")
            if tag.endswith("^{}"):
                tags[tag.removesuffix("^{}")] = left  # the peeled commit outranks the tag object
            else:
                tags.setdefault(tag, left)
    head = head_ref.removeprefix("refs/heads/") if head_ref else None
    return RemoteRefs(heads, tags, head if head in heads else None)


def fetch_refs(
    mirror: Path,
    url: str,
    refspecs: Sequence[str],
    *,
    timeout: float,
    depth: int | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Fetch exactly `refspecs` from `url` into the bare repository `mirror` (`depth`: that
    many commits of history); a shallow mirror is deepened to full history when no depth is
    asked, so ancestry can be checked."""
    args = [*_low_speed(timeout), "fetch", "--quiet", "--no-tags", "--no-recurse-submodules"]
    args.append("--force")
    if depth is not None:
        args.append(f"--depth={depth}")
    elif (mirror / "shallow").exists():
        args.append("--unshallow")
    Runner(mirror).run(*args, "--", url, *refspecs, env=env, timeout=timeout)


# The slowest transfer an HTTP fetch may keep up: below LOW_SPEED bytes/s for LOW_SPEED_TIME
# seconds (at most the fetch's own deadline), git gives up.
LOW_SPEED = 1000
LOW_SPEED_TIME = 30


def _low_speed(timeout: float) -> tuple[str, ...]:
    slow = min(LOW_SPEED_TIME, max(1, int(timeout)))
    return ("-c", f"http.lowSpeedLimit={LOW_SPEED}", "-c", f"http.lowSpeedTime={slow}")


def remote_url(top: Path, name: str = "origin") -> str | None:
    """The URL of the repository's remote `name` (None when it has none)."""
    out = Runner(top).run("config", "--get", f"remote.{name}.url", check=False).strip()
    return out or None


def project_history(
    root: Path, git: GitDirs, cfg: "Config", limit: int | None = None
) -> list[LogEntry]:
    """rulesync's commits for the project at `root`, newest first: those that touch its
    manifest (every rulesync commit does), so a project nested in the same repository, or
    holding one, keeps its own history."""
    from rulesync import manifest as manifest_mod

    rel = TopPaths(root, git.top)
    paths = [rel(manifest_mod.MANIFEST), rel(manifest_mod.LEGACY_MANIFEST)]
    return rulesync_log(git.top, cfg.commit_author[1], limit=limit, paths=paths)
