"""Libraries served from a git repository: a cached mirror, fetched, and one exact revision
materialised per commit.

The library repository is never checked out: its tree is read blob by blob through git's
object database, so nothing from it runs — no hooks, no submodules, no LFS or other filters.
A revision's folder appears by one rename once it is complete, so a fetch or a read that fails
half-way never leaves a broken library behind; the last good revision keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from rulesync import private
from rulesync.errors import FetchError, GitError, GitTimeout, InvalidInput, LibraryRewritten
from rulesync.fsutil import sha256_hex
from rulesync.paths import cache_dir
from rulesync.redact import redact_url, scrub
from rulesync.spec import SCP_LIKE, RemoteSpec
from rulesync.spec import is_url as is_url  # asked of this module by the service too
from rulesync.spec import parse_spec as parse_spec

if TYPE_CHECKING:
    from rulesync.git import RemoteRefs, TreeFile
    from rulesync.library import Limits

TIERS_FILE = "tiers.yaml"
_SHA = re.compile(r"^[0-9a-f]{40}$")
# A fetch's deadline (`fetch_timeout` in the rulesync config).
FETCH_TIMEOUT = 120.0


Rewritten = LibraryRewritten


_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
# Transports that prove the server's identity and keep the content from being changed on the
# way: a library over them may share a host with the project's origin over another transport.
_SECURE = ("https", "ssh")


class Location(NamedTuple):
    """Where a network URL points: its transport, host (lower case) and port."""

    scheme: str
    host: str
    port: int


def location(url: str) -> Location | None:
    """The transport, host and port of a network URL (`scp`-like `user@host:path` is ssh);
    None for `file://`, a local path or anything unparsable."""
    from urllib.parse import urlsplit

    match = SCP_LIKE.match(url)
    if match and "://" not in url:
        host = url.split("@", 1)[1].split(":", 1)[0]
        return Location("ssh", host.lower(), 22)
    scheme = url.partition("://")[0].lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return Location(scheme, parts.hostname.lower(), port)


def served_beside(url: str, origin: str | None) -> bool:
    """True when a library `url` named by a project's committed files may be fetched without
    the user's consent: it lives on the host the project's own `origin` is fetched from, over
    the same transport (and port) or over https / ssh. Anything else (`file://`, a local path,
    another host, plain `http://` or `git://` where the project itself is not fetched that
    way) needs the user's config to list it."""
    library = location(url)
    home = location(origin) if origin else None
    if library is None or home is None or library.host != home.host:
        return False
    if library.scheme == home.scheme:
        return library.port == home.port
    return library.scheme in _SECURE and library.port == _DEFAULT_PORTS[library.scheme]


def cache_root() -> Path:
    """user_cache_dir("rulesync")/libraries."""
    return cache_dir() / "libraries"


class Cache(NamedTuple):
    """The cache of one library URL: a bare mirror, revision folders and what is served;
    `source`: where the user's config fetches that URL from instead (a mirror)."""

    spec: RemoteSpec
    source: str | None = None

    @property
    def fetch_url(self) -> str:
        return self.source or self.spec.url

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


# No LFS download either: a library is `.mdc` text.
_NETWORK_ENV = {"GIT_LFS_SKIP_SMUDGE": "1"}
_HEX_REF = re.compile(r"^[0-9a-f]{7,40}$")


class Tip(NamedTuple):
    """The commit a spec's ref names, and what kind of ref that is (`branch`, `tag`,
    `commit`)."""

    revision: str
    kind: str


def _ensure_mirror(cache: Cache) -> None:
    import shutil  # only a fetch needs it

    private.folder(cache.folder)
    if not (cache.mirror / "HEAD").exists():
        tmp = cache.folder / f"mirror.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        from rulesync.git import init_repository

        init_repository(tmp, bare=True)
        os.replace(tmp, cache.mirror)


def _fetch_failed(cache: Cache, exc: GitError) -> FetchError:
    via = f" (from its mirror {redact_url(cache.source)})" if cache.source else ""
    hint = " (fetch_timeout in the rulesync config)" if isinstance(exc, GitTimeout) else ""
    return FetchError(f"library {cache.spec.label}{via}: fetch failed: {scrub(str(exc))}{hint}")


def default_branch(refs: RemoteRefs) -> str | None:
    """The branch a repository's HEAD names; when HEAD names none that exists (a bare
    repository made with `master` to which the team pushed `main`): its only branch, else
    `main`, else `master`; None when that leaves no answer."""
    if refs.head is not None:
        return refs.head
    if len(refs.heads) == 1:
        return next(iter(refs.heads))
    for name in ("main", "master"):
        if name in refs.heads:
            return name
    return None


def fetch(cache: Cache, *, timeout: float = FETCH_TIMEOUT) -> Tip:
    """Fetch the one ref the spec follows (its default branch when it names none) and return
    the commit it names. The ref is looked up with `ls-remote` first and fetched by its full
    name: a repository whose HEAD names a missing branch serves every other ref."""
    from rulesync.git import fetch_refs, ls_remote

    spec = cache.spec
    try:
        refs = ls_remote(cache.fetch_url, timeout=timeout, env=_NETWORK_ENV)
    except GitError as exc:
        raise _fetch_failed(cache, exc) from None
    ref = spec.ref
    if ref is None:
        branch = default_branch(refs)
        if branch is None:
            names = ", ".join(sorted(refs.heads)) or "none"
            raise InvalidInput(
                f"library {spec.label}: its HEAD names no branch that exists (branches: {names}); "
                "name one with `#branch`"
            )
        wanted, local, kind = refs.heads[branch], f"refs/heads/{branch}", "branch"
    elif ref in refs.heads:
        wanted, local, kind = refs.heads[ref], f"refs/heads/{ref}", "branch"
    elif ref in refs.tags:
        wanted, local, kind = refs.tags[ref], f"refs/tags/{ref}", "tag"
    elif _HEX_REF.match(ref):
        wanted, local, kind = ref, "", "commit"
    else:
        raise InvalidInput(
            f"library {spec.label}: ref `{ref}` does not exist there; name a branch, tag or commit"
        )
    _ensure_mirror(cache)
    try:
        if kind == "commit":
            # A full commit id is fetched as it is; an abbreviated one needs the history.
            refspecs = [wanted] if len(wanted) == 40 else ["+refs/heads/*:refs/heads/*"]
            fetch_refs(cache.mirror, cache.fetch_url, refspecs, timeout=timeout, env=_NETWORK_ENV)
        else:
            fetch_refs(
                cache.mirror,
                cache.fetch_url,
                [f"+{local}:{local}"],
                timeout=timeout,
                env=_NETWORK_ENV,
            )
            if ref is None:
                from rulesync.git import set_ref

                set_ref(cache.mirror, "refs/rulesync/default", wanted, env=_NETWORK_ENV)
    except GitError as exc:
        raise _fetch_failed(cache, exc) from None
    return resolve(cache)


def fetch_revision(cache: Cache, revision: str, *, timeout: float = FETCH_TIMEOUT) -> None:
    """Fetch one exact commit, without its history (a pinned revision, as CI needs it);
    a server that refuses commits by id gets the spec's ref fetched instead."""
    from rulesync.git import fetch_refs

    _ensure_mirror(cache)
    try:
        fetch_refs(
            cache.mirror, cache.fetch_url, [revision], timeout=timeout, depth=1, env=_NETWORK_ENV
        )
    except GitError:
        fetch(cache, timeout=timeout)


def resolve(cache: Cache) -> Tip:
    """The commit the spec's ref names in the mirror, as last fetched."""

    ref = cache.spec.ref
    candidates = (
        [(f"refs/heads/{ref}", "branch"), (f"refs/tags/{ref}", "tag"), (ref, "commit")]
        if ref
        else [("refs/rulesync/default", "branch")]
    )
    from rulesync.git import commit_of

    for candidate, kind in candidates:
        found = commit_of(cache.mirror, candidate, env=_NETWORK_ENV)
        if found is not None:
            return Tip(found, kind)
    # The repository answered: a ref it does not have is a setting to fix, not a retry.
    raise InvalidInput(
        f"library {cache.spec.label}: ref `{ref}` does not exist there; "
        "name a branch, tag or commit"
    )


def is_fast_forward(cache: Cache, old: str, new: str) -> bool:
    """True when `new` descends from `old` (the branch was not rewritten)."""

    from rulesync.git import is_ancestor

    return is_ancestor(cache.mirror, old, new, env=_NETWORK_ENV)


# Materialised revisions kept per library (a cache: one pruned is written again from the
# mirror's objects when a project pinned to it needs it).
KEEP_TREES = 8


def materialise(cache: Cache, revision: str, limits: Limits | None = None) -> Path:
    """The library folder for one revision, written from git's objects (no checkout), one
    file at a time. A revision over the limits (any file over `max_file_bytes`, more files
    than `max_sync_files`, more bytes than `max_sync_bytes`) is refused before any is read."""
    target = cache.tree(revision)
    if target.is_dir():
        with contextlib.suppress(OSError):
            os.utime(target)  # recently used: kept by `_prune`
        return target
    import shutil  # only a fetch needs it

    from rulesync.git import read_blobs, tree_files

    files = [f for f in tree_files(cache.mirror, revision) if _safe_name(f.path)]
    if limits is None:
        from rulesync.library import Limits

        limits = Limits()
    _within(cache, revision, files, limits)
    tmp = target.with_name(f".{revision}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for file, data in read_blobs(cache.mirror, files):
            path = tmp.joinpath(*file.path.split("/"))
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
    _prune(cache, keep=target)
    return target


def _safe_name(path: str) -> bool:
    return not any(p in ("", ".", "..") for p in path.split("/"))


def _within(cache: Cache, revision: str, files: list[TreeFile], limits: Limits) -> None:
    at = f"library {cache.spec.label} at {revision[:12]}"
    big = max(files, key=lambda f: f.size, default=None)
    total = sum(f.size for f in files)
    if big is not None and big.size > limits.file_bytes:
        raise InvalidInput(
            f"{at}: {big.path} is {big.size} bytes, over max_file_bytes ({limits.file_bytes}); "
            "shrink it in the library, or raise max_file_bytes in the rulesync config"
        )
    if len(files) > limits.sync_files:
        raise InvalidInput(
            f"{at}: {len(files)} files, over max_sync_files ({limits.sync_files}); "
            "split the library, or raise max_sync_files in the rulesync config"
        )
    if total > limits.sync_bytes:
        raise InvalidInput(
            f"{at}: {total} bytes, over max_sync_bytes ({limits.sync_bytes}); "
            "split the library, or raise max_sync_bytes in the rulesync config"
        )


def _prune(cache: Cache, keep: Path) -> None:
    """Remove all but the `KEEP_TREES` most recently used revisions' folders (never `keep`)."""
    import shutil

    folder = keep.parent
    try:
        trees = [p for p in folder.iterdir() if p != keep and not p.name.startswith(".")]
        trees.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in trees[KEEP_TREES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def library_folder(
    spec: RemoteSpec,
    *,
    update: bool = False,
    pinned: str | None = None,
    accept_rewrite: bool = False,
    fetched: bool = False,
    source: str | None = None,
    timeout: float = FETCH_TIMEOUT,
    limits: Limits | None = None,
) -> tuple[Path, str]:
    """The folder and revision to serve for `spec`.

    `pinned` (the revision the project's manifest recorded) is served exactly, its one commit
    fetched when it is not here yet. With `update`, or with nothing pinned, the ref is fetched
    (`fetched`: taken as the fetcher last left the mirror) and its tip served — refusing,
    unless `accept_rewrite`, a branch rewritten (force-pushed) or a tag moved since `pinned`.
    `source`: a mirror to fetch from instead of the spec's URL. A fetch taking longer than
    `timeout` seconds fails (FetchError); a revision over `limits` is refused (InvalidInput).
    """
    cache = Cache(spec, source)
    if pinned and not update:
        if not cache.tree(pinned).is_dir() and not _has_commit(cache, pinned):
            fetch_revision(cache, pinned, timeout=timeout)
            if not _has_commit(cache, pinned):
                raise FetchError(f"library {spec.label}: revision {pinned[:12]} is not there")
        return materialise(cache, pinned, limits), pinned
    if fetched and (cache.mirror / "HEAD").exists():
        tip = resolve(cache)
    else:
        tip = fetch(cache, timeout=timeout)
    # What the new tip must descend from: the project's pin; for the service's fetcher (no
    # project), the revision last served.
    base = pinned or (cache.served() if update else None)
    if base and tip.revision != base and not accept_rewrite:
        check_moved(spec, base, tip, cache)
    folder = materialise(cache, tip.revision, limits)
    cache.set_served(tip.revision)
    return folder, tip.revision


def check_moved(spec: RemoteSpec, base: str, tip: Tip, cache: Cache) -> None:
    """Refuse to follow a tag that moved, or a branch whose new tip does not descend from the
    revision served so far (force-pushed): LibraryRewritten naming both revisions."""
    if tip.kind == "tag":
        raise Rewritten(
            f"library {spec.label}: the tag `{spec.ref}` moved: it named {base[:7]}, now "
            f"{tip.revision[:7]}; still serving {base[:7]}. Accept it with "
            "`rulesync apply --update --accept-rewrite`"
        )
    if not is_fast_forward(cache, base, tip.revision):
        raise Rewritten(
            f"library {spec.label}: the branch was rewritten (force-pushed): "
            f"{tip.revision[:7]} does not descend from {base[:7]}; still serving {base[:7]}. "
            "Accept it with `rulesync apply --update --accept-rewrite`"
        )


def newest_fetched(spec: RemoteSpec) -> str | None:
    """The ref's tip in the mirror as last fetched (None when never fetched)."""
    cache = Cache(spec)
    if not (cache.mirror / "HEAD").exists():
        return None
    try:
        return resolve(cache).revision
    except InvalidInput:
        return None


def behind_by(spec: RemoteSpec, revision: str) -> tuple[str | None, int | None]:
    """The ref's tip as last fetched here, and how many commits `revision` is behind it
    (None when unknown: never fetched, or the two do not share history)."""
    newest = newest_fetched(spec)
    if newest is None:
        return None, None
    if newest == revision:
        return newest, 0
    from rulesync.git import commits_between

    return newest, commits_between(Cache(spec).mirror, revision, newest, env=_NETWORK_ENV)


def _has_commit(cache: Cache, revision: str) -> bool:
    if not (cache.mirror / "HEAD").exists():
        return False
    from rulesync.git import has_commit

    return has_commit(cache.mirror, revision, env=_NETWORK_ENV)
