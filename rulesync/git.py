"""All of rulesync's git access: where the repository is, whether it is busy, and the commit.

State checks read the git dir directly (fast, no subprocess). Commands go through GitPython's
`repo.git.*` with each `Repo` closed after one operation, so a long-running service never
accumulates `git cat-file` children.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rulesync.errors import Deferred, GitError

if TYPE_CHECKING:
    from git import Repo
    from git.cmd import Git
    from git.exc import GitCommandError

NO_HOOKS = "core.hooksPath=" + os.devnull


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


@contextmanager
def open_repo(top: Path) -> Iterator[Repo]:
    """One Repo for one operation, always closed (no lingering `git cat-file`)."""
    from git import Repo

    repo = Repo(top)
    try:
        yield repo
    finally:
        repo.close()


def _run(
    repo: Repo | Git, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> str:
    from git import Repo as RepoClass
    from git.exc import GitCommandError

    runner = repo.git if isinstance(repo, RepoClass) else repo
    try:
        out: str = runner.execute(["git", *args], env=env, with_extended_output=False)
        return out
    except GitCommandError as exc:
        if not check:
            return ""
        where = runner.working_dir
        raise GitError(f"{where}: git {_command(args)} failed: {_cause(exc)}") from None


def _command(args: Sequence[str]) -> str:
    """The git subcommand among `args` (after any `-c name=value` options)."""
    rest = list(args)
    while len(rest) > 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "?"


def _cause(exc: GitCommandError) -> str:
    """git's own reason: its `fatal:` or `error:` line (which names a lock file), not the
    advice that follows it."""
    text = (exc.stderr or "").strip().removeprefix("stderr: '").removesuffix("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (causes or lines or [f"exit status {exc.status}"])[0]


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run one git command in `cwd` (any folder) and return its output, stripped."""
    from git.cmd import Git as GitCommand

    return _run(GitCommand(str(cwd)), *args, env=env).strip()


def show_head_file(top: Path, relpath: str) -> bytes | None:
    """A file's bytes at HEAD (None when HEAD or the file does not exist)."""
    from git.cmd import Git as GitCommand

    # Bytes, untouched: a manifest must stay exact (GitPython strips a final newline by default).
    status, out, _ = GitCommand(str(top)).execute(
        ["git", "cat-file", "blob", f"HEAD:{relpath}"],
        with_extended_output=True,
        with_exceptions=False,
        stdout_as_string=False,
        strip_newline_in_stdout=False,
    )
    return out if status == 0 and isinstance(out, bytes) else None


def _identity(repo: Repo | Git, *scope: str) -> tuple[str, str] | None:
    name = _run(repo, "config", *scope, "--get", "user.name", check=False).strip()
    email = _run(repo, "config", *scope, "--get", "user.email", check=False).strip()
    return (name, email) if name and email else None


def global_identity() -> tuple[str, str] | None:
    """The user's global git identity (user.name, user.email), or None when either is unset."""
    from git.cmd import Git as GitCommand

    return _identity(GitCommand(), "--global")


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
    HEAD has them. Returns None when the paths already match HEAD.
    """
    with open_repo(top) as repo:
        existing = [p for p in paths if os.path.lexists(top / p)]
        removed = [p for p in paths if p not in existing]
        if existing:
            _run(repo, "add", "-f", "--", *existing)
        if removed:
            _run(repo, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *removed)
            has_head = bool(_run(repo, "rev-parse", "-q", "--verify", "HEAD", check=False))
            in_head = (
                set(_run(repo, "ls-tree", "--name-only", "HEAD", "--", *removed).splitlines())
                if has_head
                else set()
            )
            removed = [p for p in removed if p in in_head]
        targets = existing + removed
        if not targets:
            return None
        staged = _run(repo, "diff", "--cached", "--name-only", "--", *targets)
        if not staged.strip():
            return None
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
        if _identity(repo) is None:
            env.update(GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1])
        options = [] if run_hooks else ["-c", NO_HOOKS]
        _run(
            repo,
            *options,
            "commit",
            "--only",
            "--quiet",
            "--no-gpg-sign",
            *([] if run_hooks else ["--no-verify"]),
            "-m",
            message,
            "--",
            *targets,
            env=env,
        )
        return _run(repo, "rev-parse", "HEAD").strip()


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


@contextmanager
def snapshot(top: Path, files: Mapping[str, bytes | None]) -> Iterator[Snapshot]:
    """Start a commit of exactly these bytes at these paths (None: delete) on top of HEAD.

    git stores the blobs in the background from the planned bytes, while the caller writes
    the same bytes to the work tree; `Snapshot.commit` then builds the commit. Leaving the
    block without committing leaves only unreferenced objects, which `git gc` prunes.
    """
    with open_repo(top) as repo:
        git_dir = Path(repo.git_dir)
        # The caller holds the project's lock, so any other such folder is a killed run's.
        for stale in git_dir.glob("rulesync-commit-*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = git_dir / f"rulesync-commit-{os.getpid()}"
        work.mkdir()
        try:
            written = sorted(p for p, data in files.items() if data is not None)
            removed = sorted(p for p, data in files.items() if data is None)
            blobs = _BlobImport(repo, work, [files[p] or b"" for p in written])
            try:
                yield Snapshot(repo, work, written, removed, blobs)
            finally:
                blobs.wait()
        finally:
            shutil.rmtree(work, ignore_errors=True)


class _BlobImport:
    """One `git fast-import` storing blobs from the planned bytes, running beside rulesync.

    One pack for a large apply instead of a loose object per file (git unpacks a small
    import into loose objects itself, `fastimport.unpackLimit`).
    """

    def __init__(self, repo: Repo, work: Path, contents: list[bytes]) -> None:
        self._repo = repo
        self._marks = work / "marks"
        self._count = len(contents)
        self._process: Git.AutoInterrupt | None = None
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
            self._process = repo.git.execute(
                ["git", *args, f"--export-marks={self._marks}"],
                istream=source,
                as_process=True,
                with_stdout=False,
            )

    def wait(self) -> None:
        """Let git finish (an abandoned import still completes: no half-written pack)."""
        process, self._process = self._process, None
        if process is None or process.proc is None:
            return
        _, err = process.proc.communicate()
        if process.proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            self._failure = (lines or [f"exit status {process.proc.returncode}"])[0]
            # git leaves a crash report in the git dir; its reason is in the error already.
            crash = Path(self._repo.git_dir) / f"fast_import_crash_{process.proc.pid}"
            crash.unlink(missing_ok=True)

    def ids(self) -> list[str]:
        """The blob ids, in the order given."""
        self.wait()
        if not self._count:
            return []
        if self._failure or not self._marks.is_file():
            reason = self._failure or "no marks written"
            raise GitError(f"{self._repo.working_dir}: git fast-import failed: {reason}")
        ids = dict(line.split(maxsplit=1) for line in self._marks.read_text("ascii").splitlines())
        return [ids[f":{mark}"] for mark in range(1, self._count + 1)]


class Snapshot:
    """A commit whose blobs are being stored; `commit` builds it once the caller is ready."""

    def __init__(
        self, repo: Repo, work: Path, written: list[str], removed: list[str], blobs: _BlobImport
    ) -> None:
        self._repo = repo
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
        repo, work = self._repo, self._work
        update = ["update-index", "--add"]
        for path, blob in zip(self._written, self._blobs.ids(), strict=True):
            update += ["--cacheinfo", f"100644,{blob},{path}"]
        if self._removed:
            update += ["--force-remove", "--", *self._removed]
        head = _run(repo, "rev-parse", "-q", "--verify", "HEAD", check=False).strip()
        private = {"GIT_INDEX_FILE": str(work / "index")}
        _run(repo, "read-tree", *([head] if head else ["--empty"]), env=private)
        _run(repo, *update, env=private)
        tree = _run(repo, "write-tree", env=private).strip()
        if head and tree == _run(repo, "rev-parse", f"{head}^{{tree}}").strip():
            # Already committed, perhaps by a run killed before it updated the user's index.
            _run(repo, *update)
            return None
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
        if _identity(repo) is None:
            env.update(GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1])
        (work / "message").write_text(message, encoding="utf-8")
        parents = ["-p", head] if head else []
        commit = _run(
            repo,
            "commit-tree",
            "--no-gpg-sign",
            tree,
            *parents,
            "-F",
            str(work / "message"),
            env=env,
        ).strip()
        # The user's index learns the committed versions of exactly these paths, so
        # `git status` shows them clean; every other entry (the user's staged work) is left
        # as it was. This comes before HEAD moves: a run killed in between leaves them
        # staged, and the next sync (the commit is still flagged as owed) commits them,
        # whereas the other order would leave the index behind a commit that no later sync
        # looks at again.
        _run(repo, *update)
        subject = message.splitlines()[0]
        zero = "0" * len(commit)
        _run(repo, "update-ref", "-m", f"commit: {subject}", "HEAD", commit, head or zero)
        return commit


@dataclass(frozen=True)
class LogEntry:
    """One rulesync commit."""

    sha: str
    date: str
    subject: str
    body: str


def rulesync_log(top: Path, author_email: str, limit: int | None = None) -> list[LogEntry]:
    """rulesync's commits, newest first (`git log --author=<email>`)."""
    with open_repo(top) as repo:
        if not _run(repo, "rev-parse", "-q", "--verify", "HEAD", check=False):
            return []
        args = ["log", f"--author=<{author_email}>", "--format=%H%x1f%aI%x1f%s%x1f%b%x1e"]
        if limit:
            args.append(f"-n{limit}")
        out = _run(repo, *args)
    entries = []
    for record in out.split("\x1e"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) == 4:
            entries.append(LogEntry(*fields))
    return entries


def git_version() -> str | None:
    """`git --version`, or None when git is not installed."""
    import shutil
    import subprocess

    if not shutil.which("git"):
        return None
    proc = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def ignored_paths(top: Path, paths: Sequence[str]) -> set[str]:
    """The members of `paths` (relative to the work tree `top`) that git ignores."""
    import tempfile

    from git.cmd import Git as GitCommand

    if not paths:
        return set()
    with tempfile.TemporaryFile() as listing:
        listing.write(b"\0".join(os.fsencode(p) for p in paths))
        listing.seek(0)
        # Exit 1 means "none ignored"; anything else is a failure, never read as "none".
        status, out, err = GitCommand(str(top)).execute(
            ["git", "check-ignore", "-z", "--stdin"],
            istream=listing,
            with_extended_output=True,
            with_exceptions=False,
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
    if status not in (0, 1) or not isinstance(out, bytes):
        text = err.decode(errors="replace") if isinstance(err, bytes) else str(err)
        raise GitError(f"{top}: git check-ignore failed: {text.strip()}")
    return {os.fsdecode(p) for p in out.split(b"\0") if p}
