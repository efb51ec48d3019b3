"""rulesync's commit: exactly the planned bytes on top of HEAD, and nothing of the user's.

The blobs are stored by one `git fast-import` while the caller writes the work tree; the tree
is built in a private index; the user's index learns the committed paths only through
`index.lock`, while HEAD's move is held prepared, so a `git commit` the user makes at the same
moment never carries rulesync's files. Every git command goes through `git.Runner`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rulesync.errors import Deferred, GitError
from rulesync.git import GitDirs, Runner, failure_cause, find_git, head_commit, identity

if TYPE_CHECKING:
    import subprocess


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
            cause = (
                failure_cause(err.decode("utf-8", "replace")) or f"exit status {process.returncode}"
            )
            raise GitError(f"{self._git.cwd}: git update-ref failed: {cause}") from None

    def commit(self) -> None:
        """Move HEAD (GitError when git cannot)."""
        self._answer("commit\n", "commit")
        self.close()

    def close(self) -> None:
        """End git's process; an uncommitted transaction is dropped."""
        if self._process.returncode is None:
            self._process.communicate()


def _commit_environment(git: Runner, author: tuple[str, str]) -> dict[str, str]:
    env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
    if identity(git) is None:
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
            if head_commit(git)
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
        try:
            with stream.open("wb") as out:
                for mark, data in enumerate(contents, 1):
                    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
                    out.write(data)
                    out.write(b"\n")
                out.write(b"done\n")
        except OSError as exc:
            # A full disk must say which file it stopped (the error has no name of its own).
            raise type(exc)(exc.errno, exc.strerror or str(exc), str(stream)) from None
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
        if head_commit(Runner(dirs.top)) == fields[2]:
            os.replace(lock, dirs.git_dir / "index")
        else:
            lock.unlink(missing_ok=True)
    note.unlink(missing_ok=True)


def _update_index(git: Runner, entries: bytes, env: dict[str, str]) -> None:
    """Apply `update-index --index-info` entries (NUL-terminated) to the index `env` names."""
    git.run("update-index", "-z", "--index-info", stdin=entries, env=env)


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
        head = head_commit(git)
        blobs = self._blobs.ids()
        # Fed on stdin, never as arguments: 5,000 rules for two targets overflow a command line.
        width = len(blobs[0]) if blobs else len(head or "0" * 40)
        update = "".join(
            [
                *(f"100644 {b}\t{p}\0" for p, b in zip(self._written, blobs, strict=True)),
                *(f"0 {'0' * width}\t{p}\0" for p in self._removed),
            ]
        ).encode("utf-8", "surrogateescape")
        private = {"GIT_INDEX_FILE": str(work / "index")}
        git.run("read-tree", *([head] if head else ["--empty"]), env=private)
        _update_index(git, update, private)
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

    def _index_and_head(self, update: bytes, commit: str, move: tuple[str, str] | None) -> None:
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
            wanted = set(paths)
            saved = "".join(
                f"{entry}\0"
                for entry in self._git.run("ls-files", "-s", "-z", env=private).split("\0")
                if entry.partition("\t")[2] in wanted
            )
            _update_index(self._git, update, private)
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
