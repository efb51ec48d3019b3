"""The manifest: what rulesync owns in the project, one file at the project root.

Keyed by project-relative POSIX path: `files` (whole files a target owns) and `blocks` (the
one marked block in a file the user also writes, hashed over the block's content), each with
its sha256. It is committed with the rules, so `rulesync check` can run from the repository
alone. Versions before targets kept it in `.cursor/rules`, keyed by rule name: that one is
read when the new one is absent (`legacy`), and the next sync moves it.
"""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import read_under
from rulesync.names import has_control, valid_rule_name
from rulesync.targets import owner

MANIFEST = ".rulesync-manifest.json"
# Where versions before targets kept the manifest, keyed by names in this folder.
LEGACY_FOLDER = ".cursor/rules"
LEGACY_MANIFEST = f"{LEGACY_FOLDER}/{MANIFEST}"
VERSION = 2
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_PATH_BYTES = 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")
_CONTROL_OR_BACKSLASH = re.compile(r"[\x00-\x1f\x7f\\]")
# An empty, `.`, `..` or `.git` component (any case), or a leading slash.
_BAD_PART = re.compile(r"(?:^|/)(?:|\.|\.\.|\.git)(?:/|$)", re.IGNORECASE)


class Manifest(NamedTuple):
    """Library label, tier, targets, and path → sha256 of every managed file and block.

    `pending` holds the hashes an interrupted apply was about to write, so a file (or block)
    that already carries one is still recognised as rulesync's own. `legacy`: read from the
    location versions before targets used, so the next sync writes it anew.
    """

    library: str = ""
    tier: str = ""
    files: Mapping[str, str] = MappingProxyType({})
    blocks: Mapping[str, str] = MappingProxyType({})
    pending: Mapping[str, str] = MappingProxyType({})
    revision: str | None = None
    targets: tuple[str, ...] = ()
    legacy: bool = False

    def owns(self, path: str, sha: str) -> bool:
        """True when `sha` is a content rulesync wrote for `path` (a file or a block)."""
        return sha in (self.files.get(path), self.blocks.get(path), self.pending.get(path))

    # Computed on each read (a tuple keeps no cache): callers in a loop read them once.
    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self.files) | frozenset(self.blocks) | frozenset(self.pending)

    @property
    def managed(self) -> dict[str, str]:
        """Every managed path (files and blocks) → sha256, sorted."""
        return dict(sorted({**self.files, **self.blocks}.items()))


EMPTY = Manifest()


def dumps(manifest: Manifest) -> bytes:
    """Serialise deterministically, so an unchanged manifest is byte-identical."""
    doc: dict[str, object] = {
        "version": VERSION,
        "library": manifest.library,
        "tier": manifest.tier,
    }
    if manifest.revision:
        doc["revision"] = manifest.revision
    doc["targets"] = list(manifest.targets)
    doc["files"] = dict(sorted(manifest.files.items()))
    doc["blocks"] = dict(sorted(manifest.blocks.items()))
    if manifest.pending:
        doc["pending"] = dict(sorted(manifest.pending.items()))
    return (_indented(doc) + "\n").encode("utf-8")


def _indented(doc: dict[str, object]) -> str:
    """`json.dumps(doc, indent=2, ensure_ascii=False)` for the manifest's shape (strings, an
    int, a list of strings, objects of strings): the same text, through json's C string
    encoder, where `indent` would take json's pure-Python encoder for 4,000 entries."""
    from json.encoder import encode_basestring as quote

    lines = []
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            items = ",\n".join(f"    {quote(k)}: {quote(v)}" for k, v in value.items())
            shown = f"{{\n{items}\n  }}"
        elif isinstance(value, list) and value:
            shown = "[\n" + ",\n".join(f"    {quote(v)}" for v in value) + "\n  ]"
        else:
            shown = json.dumps(value, ensure_ascii=False)
        lines.append(f"  {quote(key)}: {shown}")
    return "{\n" + ",\n".join(lines) + "\n}"


_REPAIR = "delete the manifest and run `rulesync apply` (files equal to the library are adopted)"


def path_problem(path: str) -> str | None:
    """Why `path` cannot be a managed path (None when it can): project-relative POSIX, no
    `..`, nothing in `.git`, and inside what some target may write."""
    if (
        not path
        or len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES
        or _CONTROL_OR_BACKSLASH.search(path)
        or _BAD_PART.search(path)
    ):
        return "is not a plain project-relative path"
    if owner(path) is None:
        return "is not a path any target writes"
    return None


def _hashes(raw: object, path: Path, key: str, prefix: str | None) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: `{key}` must be an object; {_REPAIR}")
    result: dict[str, str] = {}
    for name, sha in raw.items():
        if not isinstance(name, str):
            raise UnsafePath(f"{path}: {name!r} is not a managed path; {_REPAIR}")
        if prefix is not None:
            # The legacy format: plain rule names inside `.cursor/rules`.
            if not valid_rule_name(name):
                raise UnsafePath(f"{path}: {name!r} is not a plain rule file name; {_REPAIR}")
            name = f"{prefix}/{name}"
        problem = path_problem(name)
        if problem is not None:
            raise UnsafePath(f"{path}: {name!r} {problem}; {_REPAIR}")
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise InvalidInput(f"{path}: bad sha256 for {name}; {_REPAIR}")
        result[name] = sha
    return result


def parse(data: bytes, path: Path) -> Manifest:
    """Parse manifest bytes (either format), refusing anything but managed paths and digests."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError: not UTF-8, not JSON, or an integer too long to convert; RecursionError:
        # arrays nested thousands deep. A hostile manifest gets the same clear error.
        raise InvalidInput(f"{path}: manifest is not valid JSON; {_REPAIR}") from None
    try:
        # JSON's `\udcff` escape decodes to a lone surrogate, which no file name, commit
        # message or output can hold: refused here, for every command alike.
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{path}: manifest holds an escaped lone surrogate (not Unicode text); {_REPAIR}"
        ) from None
    if not isinstance(doc, dict) or doc.get("version") not in (1, VERSION):
        raise InvalidInput(f"{path}: manifest has an unknown format; {_REPAIR}")
    library = doc.get("library", "")
    tier = doc.get("tier", "")
    revision = doc.get("revision")
    if not isinstance(library, str) or not isinstance(tier, str):
        raise InvalidInput(f"{path}: manifest library and tier must be text; {_REPAIR}")
    if has_control(library) or has_control(tier):
        # They go into rulesync's commit message: a line break would forge its trailers.
        raise InvalidInput(f"{path}: manifest library or tier holds a control character; {_REPAIR}")
    if revision is not None and (not isinstance(revision, str) or not _REVISION.match(revision)):
        raise InvalidInput(f"{path}: manifest revision is not a commit id; {_REPAIR}")
    if doc["version"] == 1:
        return Manifest(
            library=library,
            tier=tier,
            files=_hashes(doc.get("rules", {}), path, "rules", LEGACY_FOLDER),
            pending=_hashes(doc.get("pending", {}), path, "pending", LEGACY_FOLDER),
            revision=revision,
            targets=("cursor",),
            legacy=True,
        )
    targets = doc.get("targets", [])
    if not isinstance(targets, list) or not all(
        isinstance(t, str) and not has_control(t) for t in targets
    ):
        raise InvalidInput(f"{path}: manifest targets must be a list of names; {_REPAIR}")
    files = _hashes(doc.get("files", {}), path, "files", None)
    blocks = _hashes(doc.get("blocks", {}), path, "blocks", None)
    both = sorted(set(files) & set(blocks))
    if both:
        raise InvalidInput(f"{path}: {both[0]} is listed as a file and a block; {_REPAIR}")
    return Manifest(
        library=library,
        tier=tier,
        files=files,
        blocks=blocks,
        pending=_hashes(doc.get("pending", {}), path, "pending", None),
        revision=revision,
        targets=tuple(targets),
    )


def load(root: Path) -> Manifest:
    """Read the project's manifest; the legacy one when there is none yet; else empty."""
    for relpath in (MANIFEST, LEGACY_MANIFEST):
        path = root / relpath
        try:  # reached by the one walk: never through a symlinked `.cursor/rules`
            data = read_under(root, relpath, limit=MAX_MANIFEST_BYTES, what="manifest")
        except FileNotFoundError:
            continue
        return parse(data, path)
    return EMPTY
