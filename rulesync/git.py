"""All of rulesync's git access: where the repository is, whether it is busy, and the commit.

State checks read the git dir directly (fast, no subprocess). Every git command, in a project
or in a library's mirror, goes through `Runner`, which lets nothing from the repository or the
inherited environment run or redirect it: no hooks (unless the user opts in for the commit),
no fsmonitor, no filter programs, no `GIT_DIR`/`GIT_INDEX_FILE`/`GIT_WORK_TREE` from a caller.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rulesync.errors import Deferred, GitError

if TYPE_CHECKING:
    import subprocess

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
# Commands that never convert between work tree and index as rulesync calls them (blobs by
# id, refs, trees, the bare mirror): they need no look-up of the filter drivers first.
_NEVER_FILTERS = frozenset(
    {
        "--version",
        "cat-file",
        "check-ignore",
        "commit-tree",
        "config",
        "fast-import",
        "fetch",
        "init",
        "log",
        "ls-files",
        "ls-tree",
        "merge-base",
        "read-tree",
        "rev-parse",
        "update-ref",
        "write-tree",
    }
)


@dataclass(frozen=True)
class GitDirs:
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
        self._filters: dict[str, str] | None = None

    def _environment(
        self, args: Sequence[str], extra: Mapping[str, str] | None, hooks: bool
    ) -> dict[str, str]:
        config = dict(_HYGIENE)
        if _command(args) not in _NEVER_FILTERS:
            if self._filters is None:
                self._filters = self._filters_off()
            config.update(self._filters)
        if hooks:
            del config["core.hooksPath"]
        env = clean_environment()
        env.update(_config_environment(config))
        env.update(extra or {})
        return env

    def _filters_off(self) -> dict[str, str]:
        import subprocess  # loaded by the first git command: reading git state needs none

        proc = subprocess.run(
            ["git", "config", "-z", "--get-regexp", r"^filter\."],
            cwd=self.cwd,
            env={**clean_environment(), **_config_environment(_HYGIENE)},
            capture_output=True,
            check=False,
        )
        drivers = set()
        for entry in proc.stdout.split(b"\0"):
            key = entry.split(b"\n", 1)[0].decode("utf-8", "surrogateescape")
            if key.count(".") >= 2:
                drivers.add(key[len("filter.") : key.rindex(".")])
        off: dict[str, str] = {}
        for driver in sorted(drivers):
            off.update({f"filter.{driver}.{key}": "" for key in _FILTER_KEYS})
            off[f"filter.{driver}.required"] = "false"
        return off

    def output(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        hooks: bool = False,
    ) -> tuple[int, bytes, str]:
        """Run `git args` here: exit status, stdout bytes untouched, stderr."""
        import subprocess  # loaded by the first git command: reading git state needs none

        proc = subprocess.run(
            ["git", *args],
            cwd=self.cwd,
            env=self._environment(args, env, hooks),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        stdin: bytes | None = None,
        hooks: bool = False,
    ) -> str:
        """Run `git args` here and return its output; GitError naming the folder on failure
        (or "" when not `check`)."""
        status, out, err = self.output(*args, env=env, stdin=stdin, hooks=hooks)
        if status != 0:
            if not check:
                return ""
            cause = _cause(err) or f"exit status {status}"
            raise GitError(f"{self.cwd}: git {_command(args)} failed: {cause}")
        return out.decode("utf-8", "surrogateescape")

    def start(
        self, *args: str, stdin: IO[bytes] | int, stdout: int | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `git args` here, its stderr kept for `Popen.communicate` (stdout: discarded
        unless given)."""
        import subprocess  # loaded by the first git command: reading git state needs none

        return subprocess.Popen(
            ["git", *args],
            cwd=self.cwd,
            env=self._environment(args, None, False),
            stdin=stdin,
            stdout=subprocess.DEVNULL if stdout is None else stdout,
            stderr=subprocess.PIPE,
        )


class _HeadMove:
    """A prepared `git update-ref --stdin` transaction: HEAD's branch is locked and checked
    to be at `old`; `commit` moves it. Closing it unmoved (or a killed rulesync, whose pipe
    closes) makes git drop the transaction and its locks."""

    def __init__(self, git: Runner, new: str, old: str, message: str) -> None:
        import subprocess  # loaded by the first git command: reading git state needs none

        self._git = git
        self._process = git.start(
            "update-ref", "-m", message, "--stdin", stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._answer(f"start\nupdate HEAD {new} {old}\nprepare\n", "start", "prepare")

    def _answer(self, request: str, *expected: str) -> None:
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(request.encode())
            process.stdin.flush()
            for step in expected:
                if process.stdout.readline() != f"{step}: ok\n".encode():
                    raise BrokenPipeError
        except BrokenPipeError:
            _, err = process.communicate()
            cause = _cause(err.decode("utf-8", "replace")) or f"exit status {process.returncode}"
            raise GitError(f"{self._git.cwd}: git update-ref failed: {cause}") from None

    def commit(self) -> None:
        """Move HEAD (GitError when git cannot)."""
        self._answer("commit\n", "commit")
        self.close()

    def close(self) -> None:
        """End git's process; an uncommitted transaction is dropped."""
        if self._process.returncode is None:
            self._process.communicate()


def _command(args: Sequence[str]) -> str:
    """The git subcommand among `args` (after any `-c name=value` options)."""
    rest = list(args)
    while len(rest) > 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "?"


def _cause(stderr: str) -> str:
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


def _head(git: Runner) -> str:
    return git.run("rev-parse", "-q", "--verify", "HEAD", check=False).strip()


def _identity(git: Runner, *scope: str) -> tuple[str, str] | None:
    name = git.run("config", *scope, "--get", "user.name", check=False).strip()
    email = git.run("config", *scope, "--get", "user.email", check=False).strip()
    return (name, email) if name and email else None


def global_identity() -> tuple[str, str] | None:
    """The user's global git identity (user.name, user.email), or None when either is unset."""
    return _identity(Runner(Path(os.sep)), "--global")


def _commit_environment(git: Runner, author: tuple[str, str]) -> dict[str, str]:
    env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
    if _identity(git) is None:
        env.update(GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1])
    return env


def commit_paths(
    top: Path,
    paths: Sequence[str],
    message: str,
    *,
    author: tuple[str, str],
    run_hooks: bool = False,
) -> str | None:
    """Commit exactly `paths` (relative to `top`) and nothing else; return the new sha.

    The user's other staged changes stay staged, outside the commit. New files are added first
    (`git commit --only` refuses untracked paths); removed ones are committed as deletions when
    HEAD has them. Returns None when the paths already match HEAD. Only the commit itself runs
    hooks, and only with `run_hooks`.
    """
    git = Runner(top)
    existing = [p for p in paths if os.path.lexists(top / p)]
    removed = [p for p in paths if p not in existing]
    if existing:
        git.run("add", "-f", "--", *existing)
    if removed:
        git.run("rm", "--cached", "--quiet", "--ignore-unmatch", "--", *removed)
        in_head = (
            set(git.run("ls-tree", "--name-only", "HEAD", "--", *removed).splitlines())
            if _head(git)
            else set()
        )
        removed = [p for p in removed if p in in_head]
    targets = existing + removed
    if not targets:
        return None
    if not git.run("diff", "--cached", "--name-only", "--", *targets).strip():
        return None
    git.run(
        "commit",
        "--only",
        "--quiet",
        "--no-gpg-sign",
        *([] if run_hooks else ["--no-verify"]),
        "-m",
        message,
        "--",
        *targets,
        env=_commit_environment(git, author),
        hooks=run_hooks,
    )
    return git.run("rev-parse", "HEAD").strip()


def commit_snapshot(
    top: Path,
    files: Mapping[str, bytes | None],
    message: str,
    *,
    author: tuple[str, str],
) -> str | None:
    """Commit exactly these bytes at these paths (None: delete) on top of HEAD; return the sha.

    See `snapshot`, which lets the caller write the work tree while git stores the blobs.
    """
    with snapshot(top, files) as pending:
        return pending.commit(message, author=author)


def _dirs(top: Path) -> GitDirs:
    dirs = find_git(top)
    if dirs is None:
        raise GitError(f"{top}: not a git repository")
    return dirs


@contextmanager
def snapshot(top: Path, files: Mapping[str, bytes | None]) -> Iterator[Snapshot]:
    """Start a commit of exactly these bytes at these paths (None: delete) on top of HEAD.

    git stores the blobs in the background from the planned bytes, while the caller writes
    the same bytes to the work tree; `Snapshot.commit` then builds the commit. Leaving the
    block without committing leaves only unreferenced objects, which `git gc` prunes.
    """
    # Only a commit needs these: a sync with nothing to commit never loads them.
    import shutil
    import tempfile

    dirs = _dirs(top)
    # The caller holds the project's lock, so any other such folder is a killed run's.
    for stale in dirs.git_dir.glob("rulesync-commit-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="rulesync-commit-", dir=dirs.git_dir))
    try:
        git = Runner(top)
        written = sorted(p for p, data in files.items() if data is not None)
        removed = sorted(p for p, data in files.items() if data is None)
        blobs = _BlobImport(git, dirs.git_dir, work, [files[p] or b"" for p in written])
        try:
            yield Snapshot(git, dirs, work, written, removed, blobs)
        finally:
            blobs.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _BlobImport:
    """One `git fast-import` storing blobs from the planned bytes, running beside rulesync.

    One pack for a large apply instead of a loose object per file (git unpacks a small
    import into loose objects itself, `fastimport.unpackLimit`).
    """

    def __init__(self, git: Runner, git_dir: Path, work: Path, contents: list[bytes]) -> None:
        self._git = git
        self._git_dir = git_dir
        self._marks = work / "marks"
        self._count = len(contents)
        self._process: subprocess.Popen[bytes] | None = None
        self._failure = ""
        if not contents:
            return
        stream = work / "blobs"
        with stream.open("wb") as out:
            for mark, data in enumerate(contents, 1):
                out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
                out.write(data)
                out.write(b"\n")
            out.write(b"done\n")
        # Fast zlib and no delta search: rule files are small, and `git gc` repacks them.
        args = ["-c", "core.compression=1", "fast-import", "--depth=0", "--quiet", "--done"]
        with stream.open("rb") as source:
            self._process = git.start(*args, f"--export-marks={self._marks}", stdin=source)

    def wait(self) -> None:
        """Let git finish (an abandoned import still completes: no half-written pack)."""
        process, self._process = self._process, None
        if process is None:
            return
        _, err = process.communicate()
        if process.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            self._failure = (lines or [f"exit status {process.returncode}"])[0]
            # git leaves a crash report in the git dir; its reason is in the error already.
            (self._git_dir / f"fast_import_crash_{process.pid}").unlink(missing_ok=True)

    def ids(self) -> list[str]:
        """The blob ids, in the order given."""
        self.wait()
        if not self._count:
            return []
        if self._failure or not self._marks.is_file():
            reason = self._failure or "no marks written"
            raise GitError(f"{self._git.cwd}: git fast-import failed: {reason}")
        ids = dict(line.split(maxsplit=1) for line in self._marks.read_text("ascii").splitlines())
        return [ids[f":{mark}"] for mark in range(1, self._count + 1)]


# A commit step in flight: the user's new index waits in index.lock (a hard link to this
# inode) while HEAD moves. A run killed then leaves this note, so the next run can finish or
# undo its own step instead of leaving the user a stale index.lock.
INDEX_PENDING = "rulesync-index-pending"


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def finish_interrupted_commit(dirs: GitDirs) -> None:
    """Finish (HEAD moved) or undo (it did not) the index step of a killed rulesync run.

    Only an index.lock that is the very file that run wrote is touched. Call it holding the
    project's lock, so no live rulesync run is in that step.
    """
    note = dirs.git_dir / INDEX_PENDING
    try:
        fields = note.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return
    lock = dirs.git_dir / "index.lock"
    key = _stat_key(lock)
    if len(fields) == 3 and key is not None and f"{key[0]} {key[1]}" == " ".join(fields[:2]):
        if _head(Runner(dirs.top)) == fields[2]:
            os.replace(lock, dirs.git_dir / "index")
        else:
            lock.unlink(missing_ok=True)
    note.unlink(missing_ok=True)


class Snapshot:
    """A commit whose blobs are being stored; `commit` builds it once the caller is ready."""

    def __init__(
        self,
        git: Runner,
        dirs: GitDirs,
        work: Path,
        written: list[str],
        removed: list[str],
        blobs: _BlobImport,
    ) -> None:
        self._git = git
        self._dirs = dirs
        self._work = work
        self._written = written
        self._removed = removed
        self._blobs = blobs

    def commit(self, message: str, *, author: tuple[str, str]) -> str | None:
        """Commit on top of HEAD and return the sha; None when the files already match HEAD.

        Built with git's plumbing in a private index, so the commit holds what rulesync
        planned even if an editor saves the marker again meanwhile, and nothing else: the
        user's staged changes stay staged and out of it. No hook runs. HEAD moves only if
        nobody moved it meanwhile.
        """
        git, work = self._git, self._work
        update = ["update-index", "--add"]
        for path, blob in zip(self._written, self._blobs.ids(), strict=True):
            update += ["--cacheinfo", f"100644,{blob},{path}"]
        if self._removed:
            update += ["--force-remove", "--", *self._removed]
        head = _head(git)
        private = {"GIT_INDEX_FILE": str(work / "index")}
        git.run("read-tree", *([head] if head else ["--empty"]), env=private)
        git.run(*update, env=private)
        tree = git.run("write-tree", env=private).strip()
        if head and tree == git.run("rev-parse", f"{head}^{{tree}}").strip():
            # Already committed, perhaps by a run killed before the user's index learnt it.
            self._index_and_head(update, head, None)
            return None
        (work / "message").write_text(message, encoding="utf-8")
        commit = git.run(
            "commit-tree",
            "--no-gpg-sign",
            tree,
            *(["-p", head] if head else []),
            "-F",
            str(work / "message"),
            env=_commit_environment(git, author),
        ).strip()
        subject = message.splitlines()[0]
        self._index_and_head(update, commit, (head or "0" * len(commit), f"commit: {subject}"))
        return commit

    def _index_and_head(self, update: list[str], commit: str, move: tuple[str, str] | None) -> None:
        """Give the user's index the committed versions of exactly these paths, as HEAD moves
        from `move[0]` to `commit` (`move`: old sha and reflog message; None: HEAD stays).

        The new index is built in a copy and put in place the way git does, through
        index.lock, which is held until HEAD's branch is locked and known to be unmoved
        (a prepared update-ref transaction). `git commit` reads HEAD, then the index, then
        locks the index and moves HEAD only if it is still where it read it: in whichever
        order it meets these steps it either sees both of rulesync's changes or fails, so a
        user's commit can neither take rulesync's paths nor revert them. When HEAD cannot
        move, the user's index is left (or put back) exactly as it was for these paths and
        the commit stays owed to the next sync. A run killed before HEAD moves leaves the
        paths staged; the next sync commits them (the commit is still flagged as owed).
        """
        import shutil  # only a commit needs it (already loaded by `snapshot`)

        git_dir, top = self._dirs.git_dir, self._dirs.top
        index, lock = git_dir / "index", git_dir / "index.lock"
        copy, note = self._work / "user-index", git_dir / INDEX_PENDING
        paths = [*self._written, *self._removed]
        for _ in range(3):
            before = _stat_key(index)
            copy.unlink(missing_ok=True)
            if before is not None:
                shutil.copyfile(index, copy)
            private = {"GIT_INDEX_FILE": str(copy)}
            saved = self._git.run("ls-files", "-s", "-z", "--", *paths, env=private)
            self._git.run(*update, env=private)
            key = _stat_key(copy)
            assert key is not None
            note.write_text(f"{key[0]} {key[1]} {commit}\n", encoding="ascii")
            try:
                os.link(copy, lock)  # exclusive, like git's own O_EXCL, and already complete
            except FileExistsError:
                note.unlink(missing_ok=True)
                raise Deferred(
                    f"{top}: deferred: index.lock exists: another git process is working; "
                    "rulesync will commit once it is done"
                ) from None
            if _stat_key(index) == before:
                break
            # The user's git wrote the index between the copy and the lock: copy it again.
            lock.unlink(missing_ok=True)
            note.unlink(missing_ok=True)
        else:
            raise Deferred(f"{top}: deferred: the index keeps changing; rulesync will retry")
        try:
            head_move = _HeadMove(self._git, commit, *move) if move is not None else None
        except BaseException:
            lock.unlink(missing_ok=True)
            note.unlink(missing_ok=True)
            raise
        os.replace(lock, index)
        note.unlink(missing_ok=True)
        if head_move is None:
            return
        try:
            head_move.commit()
        except GitError:
            self._put_back(paths, saved, len(commit))
            raise
        finally:
            head_move.close()

    def _put_back(self, paths: list[str], saved: str, width: int) -> None:
        """The user's index entries for `paths` as they were before (absent ones removed)."""
        forget = "".join(f"0 {'0' * width}\t{path}\0" for path in paths)
        entries = (forget + saved).encode("utf-8", "surrogateescape")
        self._git.run("update-index", "-z", "--index-info", stdin=entries)


@dataclass(frozen=True)
class LogEntry:
    """One rulesync commit."""

    sha: str
    date: str
    subject: str
    body: str


def rulesync_log(top: Path, author_email: str, limit: int | None = None) -> list[LogEntry]:
    """rulesync's commits, newest first (`git log --author=<email>`)."""
    git = Runner(top)
    if not _head(git):
        return []
    args = ["log", f"--author=<{author_email}>", "--format=%H%x1f%aI%x1f%s%x1f%b%x1e"]
    if limit:
        args.append(f"-n{limit}")
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


def read_tree_files(cwd: Path, revision: str) -> Iterator[tuple[str, bytes]]:
    """Every regular file of a commit's tree, (path, bytes), read from git's objects: no
    checkout, so no filter, hook or attribute of the repository applies."""
    git = Runner(cwd)
    listing = git.run("ls-tree", "-r", "-z", "--full-tree", f"{revision}^{{commit}}")
    files = []
    for entry in listing.split("\0"):
        meta, _, path = entry.partition("\t")
        mode, kind, sha = [*meta.split(), "", "", ""][:3]
        # Symlinks (120000) and submodules (160000) are never followed.
        if kind == "blob" and mode.startswith("100"):
            files.append((path, sha))
    if not files:
        return
    request = "".join(f"{sha}\n" for _, sha in files).encode("ascii")
    status, out, err = git.output("cat-file", "--batch", stdin=request)
    if status != 0:
        raise GitError(f"{cwd}: git cat-file failed: {_cause(err) or status}")
    offset = 0
    for path, _ in files:
        header_end = out.index(b"\n", offset)
        size = int(out[offset:header_end].split()[2])
        start = header_end + 1
        yield path, out[start : start + size]
        offset = start + size + 1


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
        raise GitError(f"{top}: git check-ignore failed: {_cause(err) or status}")
    return {os.fsdecode(p) for p in out.split(b"\0") if p}
