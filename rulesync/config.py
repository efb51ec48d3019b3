"""User-level settings: config.yaml, checked against its schema."""

import os
from pathlib import Path
from typing import NamedTuple

from rulesync.library import Limits
from rulesync.marker import TARGETS_KIND
from rulesync.paths import config_dir
from rulesync.schema import Choice, Field, Flag, ListOf, MapOf, Number, Schema, Text, validate
from rulesync.targets import DEFAULT
from rulesync.yamlio import load_mapping

LOG_LEVELS = ("debug", "info", "warning", "error")

# The user config's keys, in the order messages list them; each reaches `load_config` under
# its own name.
CONFIG_SCHEMA = Schema(
    (
        Field("library", Text("`default`, a folder path or a repository URL"), "default"),
        Field("libraries", ListOf(Text("a path", blank=True), "a list of paths"), ()),
        # A library repository URL → where to fetch it from instead (a local copy, a closer
        # server): what a project follows stays the same; only the fetch goes elsewhere.
        Field(
            "mirrors",
            MapOf(Text("a repository URL"), "a mapping of library URL: mirror URL", "library"),
            {},
        ),
        Field("targets", TARGETS_KIND, DEFAULT),
        Field("debounce_ms", Number(low=0), 50),
        Field("reconcile_interval", Number(low=1), 60.0),
        # A name with something in it, then `<`, an email with something in it, `>` (each part
        # matched one way only: the check takes time in proportion to the value's length).
        Field("commit_author", Text("`Name <email>`", pattern=r"\s*[^<\s][^<]*<\s*\S.*>")),
        Field("run_hooks", Flag(), False),
        Field("log_level", Choice(LOG_LEVELS), "info"),
        Field("lock_timeout", Number(low=0), 10.0),
        Field("fetch_interval", Number(low=10), 300.0),
        Field("fetch_timeout", Number(low=1), 120.0),
        Field("sync_timeout", Number(low=1), 600.0),
        Field("max_tier_bytes", Number(low=1, whole=True), Limits().tier_bytes),
        Field("max_tier_rules", Number(low=1, whole=True), Limits().tier_rules),
        Field("max_tiers", Number(low=1, whole=True), Limits().tiers),
        # Readiness evidence: the Prometheus of projects whose marker names none, how long a
        # query may take, and how often (seconds) the service asks it again.
        Field("prometheus", Text("an http:// or https:// URL")),
        Field("prometheus_timeout", Number(low=0.1), 5.0),
        Field("prometheus_interval", Number(low=60), 900.0),
        Field("max_sync_bytes", Number(low=1, whole=True), Limits().sync_bytes),
        Field("max_sync_files", Number(low=1, whole=True), Limits().sync_files),
        Field("max_file_bytes", Number(low=1, whole=True), Limits().file_bytes),
    )
)


class Config(NamedTuple):
    """The user's defaults from config.yaml."""

    library: str = "default"
    libraries: tuple[Path, ...] = ()
    debounce_ms: int = 50
    reconcile_interval: float = 60.0
    commit_author: tuple[str, str] = ("rulesync", "rulesync@localhost")
    run_hooks: bool = False
    log_level: str = "info"
    lock_timeout: float = 10.0
    fetch_interval: float = 300.0
    fetch_timeout: float = 120.0
    sync_timeout: float = 600.0
    library_urls: tuple[str, ...] = ()
    mirrors: tuple[tuple[str, str], ...] = ()
    targets: tuple[str, ...] = DEFAULT
    limits: Limits = Limits()
    prometheus: str | None = None
    prometheus_timeout: float = 5.0
    prometheus_interval: float = 900.0

    def trusts(self, folder: Path) -> bool:
        """True when the user's config lists `folder` as a library a marker may name."""
        real = os.path.realpath(folder)
        return any(os.path.realpath(p) == real for p in self.libraries)

    def trusts_url(self, url: str) -> bool:
        """True when the user's config lists the repository `url` (any ref) as a library, or
        names a mirror for it."""
        return self.trusted_url(url) is not None or any(url == o for o, _ in self.mirrors)

    def trusted_url(self, url: str) -> str | None:
        """The URL the user's config lists for the repository `url` names: the same URL, or
        one that is the same without credentials (a committed marker names a repository
        without the token the user keeps in the config); None when the config lists none."""
        if url in self.library_urls:
            return url
        from rulesync.redact import redact_url

        plain = redact_url(url)
        return next((u for u in self.library_urls if redact_url(u) == plain), None)

    def mirror_of(self, url: str) -> str | None:
        """Where the user fetches the library repository `url` from instead (None: from it)."""
        return next((mirror for original, mirror in self.mirrors if original == url), None)


def _author(value: str) -> tuple[str, str]:
    """(name, email) from a checked `Name <email>`."""
    name, _, email = value[:-1].partition("<")
    return name.strip(), email.strip()


def _mirrors(raw: object, path: Path) -> tuple[tuple[str, str], ...]:
    """`mirrors:` as (library URL, mirror) pairs: each a repository URL (a mirror may also be
    a folder's absolute path)."""
    from rulesync.errors import InvalidInput
    from rulesync.spec import is_url

    pairs = []
    for original, mirror in dict(raw or {}).items():  # type: ignore[call-overload]
        where = os.path.expanduser(str(mirror))
        if not is_url(str(original)) or not (is_url(where) or os.path.isabs(where)):
            raise InvalidInput(
                f"{path}: mirrors: `{original}: {mirror}` must map a library's repository URL "
                "to a repository URL or a folder's absolute path"
            )
        pairs.append((str(original), where))
    return tuple(pairs)


def load_config(path: Path | None = None) -> Config:
    """Load config.yaml from the user's config folder; a missing file means the defaults."""
    path = path or config_dir() / "config.yaml"
    if not path.exists():
        return Config()
    parsed = load_mapping(path, "rulesync config")
    values = validate(CONFIG_SCHEMA, parsed, path)
    author = Config().commit_author
    if values["commit_author"] is not None:
        author = _author(values["commit_author"])
    from rulesync.spec import is_url, parse_spec

    library: str = values["library"]
    libraries: list[str] = list(values["libraries"])
    targets: tuple[str, ...] = values["targets"]

    base = path.parent
    urls = [parse_spec(x).url for x in [*libraries, library] if is_url(x)]
    trusted = [Path(os.path.expanduser(x)) for x in libraries if not is_url(x)]
    if library != "default" and not is_url(library):
        trusted.append(Path(os.path.expanduser(library)))
        library = str(base / os.path.expanduser(library))
    return Config(
        library=library,
        libraries=tuple(p if p.is_absolute() else base / p for p in trusted),
        debounce_ms=int(values["debounce_ms"]),
        reconcile_interval=float(values["reconcile_interval"]),
        commit_author=author,
        run_hooks=values["run_hooks"],
        log_level=values["log_level"],
        lock_timeout=float(values["lock_timeout"]),
        fetch_interval=float(values["fetch_interval"]),
        fetch_timeout=float(values["fetch_timeout"]),
        sync_timeout=float(values["sync_timeout"]),
        library_urls=tuple(urls),
        mirrors=_mirrors(values["mirrors"], path),
        targets=targets,
        limits=Limits(
            tier_bytes=values["max_tier_bytes"],
            tier_rules=values["max_tier_rules"],
            tiers=values["max_tiers"],
            sync_bytes=values["max_sync_bytes"],
            sync_files=values["max_sync_files"],
            file_bytes=values["max_file_bytes"],
        ),
        prometheus=values["prometheus"],
        prometheus_timeout=float(values["prometheus_timeout"]),
        prometheus_interval=float(values["prometheus_interval"]),
    )
