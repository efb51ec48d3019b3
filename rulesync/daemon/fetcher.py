"""Libraries served from git: fetched on a timer, on a thread of their own, so syncs and
SIGTERM never wait for the network. A moved revision is reported through the queue."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from rulesync.daemon.events import Fetched, Post
from rulesync.errors import RulesyncError
from rulesync.logs import Logger


class Fetcher:
    """Fetches the git-served libraries in use, one batch at a time."""

    def __init__(self, post: Post, log: Logger) -> None:
        self._post = post
        self._log = log
        self._thread: threading.Thread | None = None

    def start(
        self,
        specs: Iterable[str],
        mirror_of: Callable[[str], str | None] = lambda _: None,
        *,
        timeout: float,
    ) -> None:
        """Fetch `specs` in the background (each from the mirror `mirror_of` names for its
        URL, if any), unless the previous batch is still running; each fetch that takes longer
        than `timeout` seconds fails."""
        wanted = sorted(set(specs))
        if not wanted or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(
            target=self._fetch,
            args=(wanted, mirror_of, timeout),
            name="rulesync-fetch",
            daemon=True,
        )
        self._thread.start()

    def _fetch(
        self, specs: list[str], mirror_of: Callable[[str], str | None], timeout: float
    ) -> None:
        from rulesync.remote import Cache, Rewritten, library_folder, parse_spec

        for spec in specs:
            log = self._log.bind(library=spec)
            try:
                remote = parse_spec(spec)
                before = Cache(remote).served()
                if before is None:
                    continue  # never served yet: the first sync fetches it
                _, revision = library_folder(
                    remote, update=True, source=mirror_of(remote.url), timeout=timeout
                )
            except Rewritten as exc:
                log.error("library.rewritten", error=str(exc))
            except RulesyncError as exc:
                log.warning("library.fetch_failed", error=str(exc))
            except Exception:
                log.exception("library.fetch_crashed")
            else:
                if revision != before:
                    log.info("library.fetched", revision=revision, previous=before)
                    self._post(Fetched(spec))
                else:
                    log.debug("library.fetched", revision=revision, previous=before)
