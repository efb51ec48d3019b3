"""rulesync's commit: exactly the planned bytes on top of HEAD, and nothing of the user's.

One `git fast-import` stores the blobs while the caller writes the work tree, then builds the
tree and the commit on top of HEAD in the same stream. The user's index is held through
`index.lock` from before HEAD is read until HEAD has moved, and learns the committed paths
only while HEAD's move is held prepared, so a `git commit` the user makes at the same moment
never carries rulesync's files. A commit takes three git processes (`fast-import`,
`update-index`, `update-ref`) and the one configuration read of `git.Runner.settings`.
Every git command goes through `git.Runner`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from rulesync.errors import Deferred, GitError
from rulesync.git import (
    GitDirs,
    Runner,
    failure_cause,
    find_git,
    head_commit,
    head_id,
    identity,
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


def _ident(person: tuple[str, str], when: float) -> str:
    """An author or committer line's value as git writes it: name, email, time, zone. What
    git strips from an identity (angle brackets, line breaks) is stripped here too."""
    name, email = ("".join(c for c in part if c not in "<>\n\0").strip() for part in person)
    offset = time.localtime(when).tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    return f"{name} <{email}> {int(when)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


# The bytes fast-import's quoting escapes: control bytes, DEL, the quote and the backslash.
_ESCAPED = bytes(range(0x20)) + b'"\\\x7f'


def _quoted(path: str) -> bytes:
    """A path in fast-import's C-style quoting (any byte a name may hold)."""
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw.translate(None, _ESCAPED)) == len(raw):  # the usual name: nothing to escape
        return b'"%s"' % raw
    out = bytearray(b'"')
    for byte in raw:
        if byte in b'"\\':
            out += b"\\%c" % byte
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


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
    # Paths go on stdin, never as arguments: thousands of rules overflow a command line.
    from_stdin = ("--pathspec-from-file=-", "--pathspec-file-nul")
    if existing:
        git.run("add", "-f", *from_stdin, stdin=_nul_list(existing))
    if removed:
        git.run(
            "rm", "--cached", "--quiet", "--ignore-unmatch", *from_stdin, stdin=_nul_list(removed)
        )
    # What differs from HEAD among them: a removed path HEAD never had is no deletion.
    staged = set(git.run("diff", "--cached", "--name-only", "--no-renames", "-z").split("\0"))
    targets = [p for p in paths if p in staged]
    if not targets:
        return None
    import tempfile  # only a commit needs it

    # The message lists every path, so it is no argument either (128 KiB at most).
    with tempfile.TemporaryDirectory(prefix="rulesync-commit-", dir=_dirs(top).git_dir) as work:
        (Path(work) / "message").write_text(message, encoding="utf-8")
        git.run(
            "commit",
            "--only",
            "--quiet",
            "--no-gpg-sign",
            *([] if run_hooks else ["--no-verify"]),
            "-F",
            str(Path(work) / "message"),
            *from_stdin,
            stdin=_nul_list(targets),
            env=_commit_environment(git, author),
            hooks=run_hooks,
        )
    return git.run("rev-parse", "HEAD").strip()


def _nul_list(paths: Sequence[str]) -> bytes:
    return "".join(f"{p}\0" for p in paths).encode("utf-8", "surrogateescape")


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
        git.read_settings_ahead()  # the committer's identity, read while the files are written
        written = sorted(p for p, data in files.items() if data is not None)
        removed = sorted(p for p, data in files.items() if data is None)
        stream = _FastImport(git, dirs.git_dir, work, [files[p] or b"" for p in written])
        try:
            yield Snapshot(git, dirs, work, written, removed, stream)
        finally:
            stream.finish()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# The branch name a commit is built on inside fast-import. It is reset before the stream
# ends, so fast-import never writes it: the only ref that moves is HEAD's, by `_HeadMove`.
_SCRATCH = "refs/rulesync/commit"


class _FastImport:
    """One `git fast-import`, running beside rulesync: it stores the blobs from the planned
    bytes while the caller writes the work tree, then builds the tree and the commit.

    One pack for a large apply instead of a loose object per file (git unpacks a small
    import into loose objects itself, `fastimport.unpackLimit`). The blobs are fed by a
    thread, so rulesync's own writes go on meanwhile; the commit's requests follow on the
    same stream and fast-import answers them on its stdout.
    """

    def __init__(self, git: Runner, git_dir: Path, work: Path, contents: list[bytes]) -> None:
        import subprocess
        import threading

        self._git = git
        self._git_dir = git_dir
        self._marks = work / "marks"
        self._count = len(contents)
        self._fed: BaseException | None = None
        self._error = b""
        # Fast zlib and no delta search: rule files are small, and `git gc` repacks them.
        self._process = git.start(
            "-c",
            "core.compression=1",
            "fast-import",
            "--depth=0",
            "--quiet",
            "--done",
            "--cat-blob-fd=1",
            f"--export-marks={self._marks}",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._feeder = threading.Thread(target=self._feed, args=(contents,), daemon=True)
        self._feeder.start()

    def _feed(self, contents: list[bytes]) -> None:
        pipe = self._process.stdin
        assert pipe is not None
        try:
            for mark, data in enumerate(contents, 1):
                pipe.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
                pipe.write(data)
                pipe.write(b"\n")
            pipe.flush()
        except BaseException as exc:  # fast-import gone: its own error says why
            self._fed = exc

    def _send(self, request: bytes) -> None:
        """Send `request` once the blobs are all sent (GitError when git is gone)."""
        self._feeder.join()
        pipe = self._process.stdin
        assert pipe is not None
        try:
            if self._fed is not None:
                raise BrokenPipeError
            pipe.write(request)
            pipe.flush()
        except (BrokenPipeError, ValueError):
            self._fail()

    def _answer(self) -> str:
        pipe = self._process.stdout
        assert pipe is not None
        line = pipe.readline()
        if not line.endswith(b"\n"):
            self._fail()
        return line.decode("ascii").rstrip("\n")

    def _fail(self) -> None:
        self.finish()
        reason = self._failure or "the stream ended early"
        raise GitError(f"{self._git.cwd}: git fast-import failed: {reason}")

    def commit(
        self,
        head: str,
        people: tuple[str, str],
        message: str,
        written: list[str],
        removed: list[str],
    ) -> tuple[str, bool]:
        """Build the commit of `written` (blobs 1…n, in order) and `removed` on `head` ("":
        none), with `people` the author and committer lines; return its mark (":n") and
        whether its tree is HEAD's."""
        mark = self._count + 1
        data = message.encode("utf-8", "surrogateescape")
        request = [
            b"commit %s\nmark :%d\n" % (_SCRATCH.encode(), mark),
            b"author %s\ncommitter %s\n"
            % tuple(p.encode("utf-8", "surrogateescape") for p in people),
            b"data %d\n%s\n" % (len(data), data),
            *([b"from %s\n" % head.encode()] if head else []),
            *(b"M 100644 :%d %s\n" % (n, _quoted(p)) for n, p in enumerate(written, 1)),
            *(b"D %s\n" % _quoted(p) for p in removed),
            b'\nls :%d ""\n' % mark,
            *([b'ls %s ""\n' % head.encode()] if head else []),
        ]
        self._send(b"".join(request))
        tree = self._answer().split("\t")[0]
        return f":{mark}", bool(head) and self._answer().split("\t")[0] == tree

    def finish(self) -> None:
        """End the stream and let git finish: the objects are then in the repository (an
        abandoned stream still completes: no half-written pack)."""
        process = self._process
        if process.returncode is not None:
            return
        self._feeder.join()
        assert process.stdin is not None
        try:
            process.stdin.write(b"reset %s\n\ndone\n" % _SCRATCH.encode())
            process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read()  # answers no one asked for: none, unless rulesync failed
        err = process.stderr.read()
        process.wait()
        if process.returncode != 0:
            # git leaves a crash report in the git dir; its reason is in the error already.
            (self._git_dir / f"fast_import_crash_{process.pid}").unlink(missing_ok=True)
        self._error = err

    @property
    def _failure(self) -> str:
        if self._process.returncode in (None, 0):
            return ""
        lines = self._error.decode("utf-8", "replace").strip().splitlines()
        return (lines or [f"exit status {self._process.returncode}"])[0]

    def ids(self) -> dict[str, str]:
        """The object ids by mark (":n"), once the stream is finished."""
        self.finish()
        if self._failure or not self._marks.is_file():
            reason = self._failure or "no marks written"
            raise GitError(f"{self._git.cwd}: git fast-import failed: {reason}")
        return dict(line.split(maxsplit=1) for line in self._marks.read_text("ascii").splitlines())


# A commit in flight: the user's index is held through index.lock (a hard link to a copy in
# rulesync's folder), first as it was, then as it will be once HEAD has moved. Each line
# names one of those files (inode, mtime) and the commit it waits for ("-": none). A run
# killed meanwhile leaves this note, so the next run can finish or undo its own step instead
# of leaving the user a stale index.lock.
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
        lines = [line.split() for line in note.read_text(encoding="ascii").splitlines()]
    except (OSError, UnicodeDecodeError):
        return
    lock = dirs.git_dir / "index.lock"
    key = _stat_key(lock)
    for fields in lines:
        if len(fields) != 3 or key is None or f"{key[0]} {key[1]}" != " ".join(fields[:2]):
            continue
        if fields[2] != "-" and head_commit(Runner(dirs.top)) == fields[2]:
            os.replace(lock, dirs.git_dir / "index")
        else:
            lock.unlink(missing_ok=True)
        break
    note.unlink(missing_ok=True)


class _UserIndex:
    """The user's index, held through index.lock while rulesync commits.

    Taken before HEAD is read: `git commit` holds index.lock from before it writes its tree
    until HEAD has moved, so while rulesync holds it, no `git commit` can move HEAD, and one
    that read HEAD or the index before is refused when it moves HEAD or takes the lock.
    """

    def __init__(self, dirs: GitDirs, work: Path) -> None:
        self._git_dir = dirs.git_dir
        self._top = dirs.top
        self._index = dirs.git_dir / "index"
        self._lock = dirs.git_dir / "index.lock"
        self._note = dirs.git_dir / INDEX_PENDING
        self.copy = work / "user-index"
        self.original = work / "user-index-before"
        self._notes: list[str] = []

    def _noted(self, path: Path, commit: str) -> None:
        key = _stat_key(path)
        assert key is not None
        self._notes.append(f"{key[0]} {key[1]} {commit}\n")
        self._note.write_text("".join(self._notes), encoding="ascii")

    def take(self) -> None:
        """Hold index.lock, holding the index as it is (Deferred while another git holds it,
        or when it keeps changing)."""
        import shutil  # only a commit needs it (already loaded by `snapshot`)

        for _ in range(3):
            before = _stat_key(self._index)
            self.copy.unlink(missing_ok=True)
            if before is not None:
                shutil.copyfile(self._index, self.copy)
            else:
                self.copy.write_bytes(b"")
            self._noted(self.copy, "-")
            try:
                os.link(self.copy, self._lock)  # exclusive, like git's own O_EXCL
            except FileExistsError:
                self._note.unlink(missing_ok=True)
                raise Deferred(
                    f"{self._top}: deferred: index.lock exists: another git process is "
                    "working; rulesync will commit once it is done"
                ) from None
            if _stat_key(self._index) == before:
                if before is not None:  # kept for `put_back`
                    os.link(self.copy, self.original)
                return
            # The user's git wrote the index between the copy and the lock: copy it again.
            self.release()
        raise Deferred(f"{self._top}: deferred: the index keeps changing; rulesync will retry")

    def stage(self, git: Runner, update: bytes, commit: str) -> None:
        """Hold the index as it will be once HEAD is at `commit`: these entries applied."""
        private = {"GIT_INDEX_FILE": str(self.copy)}
        if not self.original.exists():
            self.copy.unlink()  # from no index at all: git starts an empty one
        _update_index(git, update, private)
        self._noted(self.copy, commit)
        os.replace(self.copy, self._lock)

    def put_in_place(self) -> None:
        """Let go of index.lock, making what it holds the user's index."""
        os.replace(self._lock, self._index)
        self._note.unlink(missing_ok=True)
        self._notes = []

    def release(self) -> None:
        """Let go of index.lock, leaving the user's index as it was."""
        if self._notes:
            key = _stat_key(self._lock)
            if key is not None and f"{key[0]} {key[1]} " in "".join(self._notes):
                self._lock.unlink(missing_ok=True)
        self._note.unlink(missing_ok=True)
        self._notes = []

    def put_back(self, git: Runner, paths: list[str], width: int) -> None:
        """The user's index entries for `paths` as they were before (absent ones removed)."""
        wanted = set(paths)
        saved = ""
        if self.original.exists():
            listed = git.run("ls-files", "-s", "-z", env={"GIT_INDEX_FILE": str(self.original)})
            saved = "".join(
                f"{entry}\0" for entry in listed.split("\0") if entry.partition("\t")[2] in wanted
            )
        forget = "".join(f"0 {'0' * width}\t{path}\0" for path in paths)
        _update_index(git, (forget + saved).encode("utf-8", "surrogateescape"), {})


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
        stream: _FastImport,
    ) -> None:
        self._git = git
        self._dirs = dirs
        self._work = work
        self._written = written
        self._removed = removed
        self._stream = stream

    def commit(self, message: str, *, author: tuple[str, str]) -> str | None:
        """Commit on top of HEAD and return the sha; None when the files already match HEAD.

        The commit holds what rulesync planned even if an editor saves the marker again
        meanwhile, and nothing else: the user's staged changes stay staged and out of it. No
        hook runs. The user's index is held from before HEAD is read (`_UserIndex`); HEAD
        moves only if nobody moved it meanwhile.
        """
        index = _UserIndex(self._dirs, self._work)
        index.take()
        try:
            return self._commit(index, message, author)
        finally:
            index.release()  # unless it was put in place

    def _commit(self, index: _UserIndex, message: str, author: tuple[str, str]) -> str | None:
        git = self._git
        head = head_id(self._dirs) or head_commit(git)
        if not head and not self._written:
            return None  # nothing to delete from an empty history
        now = time.time()
        people = (_ident(author, now), _ident(identity(git) or author, now))
        mark, same = self._stream.commit(head, people, message, self._written, self._removed)
        ids = self._stream.ids()
        blobs = [ids[f":{n}"] for n in range(1, len(self._written) + 1)]
        commit = ids[mark]
        # Fed on stdin, never as arguments: 5,000 rules for two targets overflow a command line.
        update = "".join(
            [
                *(f"100644 {b}\t{p}\0" for p, b in zip(self._written, blobs, strict=True)),
                *(f"0 {'0' * len(commit)}\t{p}\0" for p in self._removed),
            ]
        ).encode("utf-8", "surrogateescape")
        if same:
            # Already committed, perhaps by a run killed before the user's index learnt it.
            index.stage(git, update, head)
            index.put_in_place()
            return None
        index.stage(git, update, commit)
        subject = message.splitlines()[0]
        head_move = _HeadMove(git, commit, head or "0" * len(commit), f"commit: {subject}")
        try:
            # The index first, while HEAD's move is prepared: a `git commit` that read HEAD
            # before the move then fails to move it, one that reads it after sees both.
            index.put_in_place()
            try:
                head_move.commit()
            except GitError:
                index.put_back(git, [*self._written, *self._removed], len(commit))
                raise
        finally:
            head_move.close()
        return commit
