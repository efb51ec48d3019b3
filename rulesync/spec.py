"""What a library setting names: `default`, a folder, or a git repository as `URL[#ref]`.

Every command asks this of the settings it reads; fetching and caching a repository's
revisions (`rulesync.remote`) is loaded only for a library served from git."""

import re
from typing import NamedTuple

from rulesync.errors import InvalidInput
from rulesync.redact import redact_url

# `user@host:path`: the scp-like address git reads as ssh.
SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:")
URL_PREFIXES = ("https://", "http://", "ssh://", "git://", "file://")


def is_url(spec: str) -> bool:
    """True when a library setting names a git repository rather than a folder."""
    return spec.startswith(URL_PREFIXES) or bool(SCP_LIKE.match(spec))


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
