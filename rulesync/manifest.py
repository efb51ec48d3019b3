"""The manifest: which files in `.cursor/rules` rulesync owns, with their sha256.

It is committed with the rules, so `rulesync check` can run from the repository alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import read_regular
from rulesync.names import valid_rule_name

MANIFEST = ".rulesync-manifest.json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Manifest:
    """Library label, tier, and name → sha256 of every managed file.

    `pending` holds the hashes an interrupted apply was about to write, so a file that
    already carries one is still recognised as rulesync's own.
    """

    library: str = ""
    tier: str = ""
    rules: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    revision: str | None = None

    def owns(self, name: str, sha: str) -> bool:
        """True when `sha` is a content rulesync wrote for `name`."""
        return self.rules.get(name) == sha or self.pending.get(name) == sha

    @property
    def names(self) -> set[str]:
        return set(self.rules) | set(self.pending)


EMPTY = Manifest()


def dumps(manifest: Manifest) -> bytes:
    """Serialise deterministically, so an unchanged manifest is byte-identical."""
    doc: dict[str, object] = {
        "version": 1,
        "library": manifest.library,
        "tier": manifest.tier,
    }
    if manifest.revision:
        doc["revision"] = manifest.revision
    doc["rules"] = dict(sorted(manifest.rules.items()))
    if manifest.pending:
        doc["pending"] = dict(sorted(manifest.pending.items()))
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _hashes(raw: object, path: Path, key: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: `{key}` must be an object; {_REPAIR}")
    result: dict[str, str] = {}
    for name, sha in raw.items():
        if not isinstance(name, str) or not valid_rule_name(name):
            raise UnsafePath(f"{path}: {name!r} is not a plain rule file name; {_REPAIR}")
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise InvalidInput(f"{path}: bad sha256 for {name}; {_REPAIR}")
        result[name] = sha
    return result


_REPAIR = "delete the manifest and run `rulesync apply` (files equal to the library are adopted)"


def parse(data: bytes, path: Path) -> Manifest:
    """Parse manifest bytes, refusing anything but plain rule names and sha256 digests."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError: not UTF-8, not JSON, or an integer too long to convert; RecursionError:
        # arrays nested thousands deep. A hostile manifest gets the same clear error.
        raise InvalidInput(f"{path}: manifest is not valid JSON; {_REPAIR}") from None
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise InvalidInput(f"{path}: manifest has an unknown format; {_REPAIR}")
    library = doc.get("library", "")
    tier = doc.get("tier", "")
    revision = doc.get("revision")
    if not isinstance(library, str) or not isinstance(tier, str):
        raise InvalidInput(f"{path}: manifest library and tier must be text; {_REPAIR}")
    if revision is not None and (not isinstance(revision, str) or not _REVISION.match(revision)):
        raise InvalidInput(f"{path}: manifest revision is not a commit id; {_REPAIR}")
    return Manifest(
        library=library,
        tier=tier,
        rules=_hashes(doc.get("rules", {}), path, "rules"),
        pending=_hashes(doc.get("pending", {}), path, "pending"),
        revision=revision,
    )


def load(rules_dir: Path) -> Manifest:
    """Read the manifest in `rules_dir`; none yet means an empty manifest."""
    path = rules_dir / MANIFEST
    try:
        data = read_regular(path, limit=MAX_MANIFEST_BYTES, follow=False, what="manifest")
    except (FileNotFoundError, NotADirectoryError):
        return EMPTY
    return parse(data, path)
