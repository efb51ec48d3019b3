"""Libraries served from a git repository: a cached mirror, fetched, and one exact revision
materialised per commit.

The library repository is never checked out: its tree is read blob by blob through git's
object database, so nothing from it runs — no hooks, no submodules, no LFS or other filters.
A revision's folder appears by one rename once it is complete, so a fetch or a read that fails
half-way never leaves a broken library behind; the last good revision keeps serving.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import NamedTuple

from rulesync import private
from rulesync.config import cache_dir
from rulesync.errors import FetchError, GitError, InvalidInput, LibraryRewritten
from rulesync.fsutil import sha256_hex
from rulesync.redact import redact_url, scrub

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:")
URL_PREFIXES = ("https://", "http://", "ssh://", "git://", "file://")
TIERS_FILE = "tiers.yaml"
_SHA = re.compile(r"^[0-9a-f]{40}$")
# A fetch's deadline (`fetch_timeout` in the rulesync config), and the slowest transfer an
# HTTP fetch may keep up: below LOW_SPEED bytes/s for LOW_SPEED_TIME seconds, git gives up.
FETCH_TIMEOUT = 120.0
LOW_SPEED = 1000
LOW_SPEED_TIME = 30


Rewritten = LibraryRewritten


def is_url(spec: str) -> bool:
    """True when a library setting names a git repository rather than a folder."""
    return spec.startswith(URL_PREFIXES) or bool(_SCP_LIKE.match(spec))


class RemoteSpec(NamedTuple):
    """A library URL and the ref it follows (None: the repository's default branch)."""

    url: str
    ref: str | None

    @property
    def label(self) -> str:
        """The spec as recorded, printed and logged: the URL without its credentials."""
        url = redact_url(self.url)
        return f"{url}#{self.ref}" if self.ref else url


def parse_spec(spec: str) -> RemoteSpec:
    """`URL` or `URL#ref` (a branch, a tag or a commit)."""
    url, sep, ref = spec.partition("#")
    shown = redact_url(spec)
    if url.startswith("-"):
        # git would read it as an option (`--upload-pack=…`), not as a repository.
        raise InvalidInput(f"library `{shown}`: a repository URL cannot start with `-`")
    if sep and not ref:
        raise InvalidInput(f"library `{shown}`: nothing after `#`; name a branch, tag or commit")
    if ref.startswith("-") or any(c.isspace() for c in ref) or ".." in ref:
        raise InvalidInput(f"library `{shown}`: `{ref}` is not a valid ref name")
    return RemoteSpec(url, ref or None)


def cache_root() -> Path:
    """user_cache_dir("rulesync")/libraries."""
    return cache_dir() / "libraries"


class Cache(NamedTuple):
    """The cache of one library URL: a bare mirror, revision folders and what is served."""

    spec: RemoteSpec

    @property
    def folder(self) -> Path:
        return cache_root() / sha256_hex(self.spec.url.encode())[:16]

    @property
    def mirror(self) -> Path:
        return self.folder / "mirror.git"

    def tree(self, revision: str) -> Path:
        return self.folder / "trees" / revision

    @property
    def state_file(self) -> Path:
        return self.folder / "served.json"

    def served(self) -> str | None:
        """The revision currently served for this spec's ref (None before the first fetch)."""
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        revision = state.get(self.spec.ref or "HEAD") if isinstance(state, dict) else None
        if isinstance(revision, str) and _SHA.match(revision) and self.tree(revision).is_dir():
            return revision
        return None

    def set_served(self, revision: str) -> None:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            state = state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            state = {}
        state[self.spec.ref or "HEAD"] = revision
        state["fetched_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        private.write(self.state_file, json.dumps(state, indent=2, sort_keys=True).encode())


def _git(cwd: Path, *args: str, timeout: float | None = None) -> str:
    from rulesync.git import Runner

    # The library URL is the user's own, so the user's credential helper and ssh settings
    # apply; the runner keeps everything else from running. No LFS download either.
    env = {"GIT_LFS_SKIP_SMUDGE": "1"}
    return Runner(cwd).run(*args, env=env, timeout=timeout).strip()


def fetch(cache: Cache, timeout: float = FETCH_TIMEOUT) -> None:
    """Fetch every branch, tag and the default branch of the library repository."""
    import shutil  # only a fetch needs it: every command asks `is_url` of this module

    private.folder(cache.folder)
    if not (cache.mirror / "HEAD").exists():
        tmp = cache.folder / f"mirror.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _git(tmp, "init", "--quiet", "--bare")
        os.replace(tmp, cache.mirror)
    slow = min(LOW_SPEED_TIME, max(1, int(timeout)))
    try:
        _git(
            cache.mirror,
            "-c",
            f"http.lowSpeedLimit={LOW_SPEED}",
            "-c",
            f"http.lowSpeedTime={slow}",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-recurse-submodules",
            "--prune",
            "--force",
            "--",
            cache.spec.url,
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
            "+HEAD:refs/rulesync/default",
            timeout=timeout,
        )
    except GitError as exc:
        hint = " (fetch_timeout in the rulesync config)" if "did not finish" in str(exc) else ""
        raise FetchError(
            f"library {cache.spec.label}: fetch failed: {scrub(str(exc))}{hint}"
        ) from None


def resolve(cache: Cache) -> str:
    """The commit the spec's ref names in the mirror."""

    ref = cache.spec.ref
    candidates = (
        [f"refs/heads/{ref}", f"refs/tags/{ref}", ref] if ref else ["refs/rulesync/default"]
    )
    for candidate in candidates:
        try:
            return _git(cache.mirror, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
        except GitError:
            continue
    # The repository answered: a ref it does not have is a setting to fix, not a retry.
    raise InvalidInput(
        f"library {cache.spec.label}: ref `{ref}` does not exist there; "
        "name a branch, tag or commit"
    )


def is_fast_forward(cache: Cache, old: str, new: str) -> bool:
    """True when `new` descends from `old` (the branch was not rewritten)."""

    try:
        _git(cache.mirror, "merge-base", "--is-ancestor", old, new)
    except GitError:
        return False
    return True


def materialise(cache: Cache, revision: str) -> Path:
    """The library folder for one revision, written from git's objects (no checkout)."""
    target = cache.tree(revision)
    if target.is_dir():
        return target
    import shutil  # only a fetch needs it: every command asks `is_url` of this module

    from rulesync.git import read_tree_files

    tmp = target.with_name(f".{revision}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name, data in read_tree_files(cache.mirror, revision):
            parts = name.split("/")
            if any(p in ("", ".", "..") for p in parts):
                continue
            path = tmp.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if not (tmp / TIERS_FILE).is_file():
            raise InvalidInput(
                f"library {cache.spec.label}: revision {revision[:12]} has no {TIERS_FILE} "
                "at its top; it is not a rules library"
            )
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def library_folder(
    spec: RemoteSpec,
    *,
    update: bool = False,
    pinned: str | None = None,
    accept_rewrite: bool = False,
    timeout: float = FETCH_TIMEOUT,
) -> tuple[Path, str]:
    """The folder and revision to serve for `spec`.

    `pinned` (a manifest's recorded revision) is served exactly, fetching only if needed.
    Otherwise the served revision is kept until `update`, which fetches and moves to the ref's
    new tip — refusing a rewritten (force-pushed) branch unless `accept_rewrite`. A fetch
    taking longer than `timeout` seconds fails (FetchError).
    """
    cache = Cache(spec)
    if pinned:
        if not cache.tree(pinned).is_dir():
            if not (cache.mirror / "HEAD").exists() or not _has_commit(cache, pinned):
                fetch(cache, timeout)
            if not _has_commit(cache, pinned):
                raise FetchError(f"library {spec.label}: revision {pinned[:12]} is not there")
        return materialise(cache, pinned), pinned
    served = cache.served()
    if served and not update:
        return cache.tree(served), served
    fetch(cache, timeout)
    tip = resolve(cache)
    if served and tip != served and not accept_rewrite and not is_fast_forward(cache, served, tip):
        raise Rewritten(
            f"library {spec.label}: the branch was rewritten (force-pushed): {tip[:7]} does not "
            f"descend from {served[:7]}; still serving {served[:7]}. Accept it with "
            "`rulesync apply --update --accept-rewrite`"
        )
    folder = materialise(cache, tip)
    cache.set_served(tip)
    return folder, tip


def newest_fetched(spec: RemoteSpec) -> str | None:
    """The ref's tip in the mirror as last fetched (None when never fetched)."""
    cache = Cache(spec)
    if not (cache.mirror / "HEAD").exists():
        return None
    try:
        return resolve(cache)
    except InvalidInput:
        return None


def _has_commit(cache: Cache, revision: str) -> bool:

    try:
        _git(cache.mirror, "cat-file", "-e", f"{revision}^{{commit}}")
    except GitError:
        return False
    return True
