"""`rulesync library [set SPEC]`: print the library the project follows, or change it in one
commit whose subject says so (`rulesync: library a → b`)."""

from __future__ import annotations

import argparse

from rulesync import manifest as manifest_mod
from rulesync.commands._common import config, project_root, sync_project
from rulesync.commands.apply import print_result
from rulesync.errors import EXIT_OK, InvalidInput
from rulesync.marker import parse_marker, read_marker_bytes, with_library, write_marker
from rulesync.names import has_control
from rulesync.project import Fetching, choose_library, followed_library
from rulesync.report import emit_json


def _checked_spec(spec: str) -> str:
    """`spec` as typed, refused when it cannot be a library setting."""
    from rulesync.spec import is_url, parse_spec

    if not spec.strip() or has_control(spec):
        raise InvalidInput(
            f"rulesync library set {spec!r}: not a library; name `default`, a "
            "folder inside the project or a repository URL[#ref]"
        )
    if is_url(spec):
        url = parse_spec(spec).url
        scheme, _, rest = url.partition("://")
        if scheme in ("http", "https") and "@" in rest.split("/", 1)[0]:
            # It would be committed in the marker, for everyone who can read the repository.
            raise InvalidInput(
                f"rulesync library set: the URL holds credentials ({scheme}://…@…); name it "
                "without them and let git's credential helper supply them"
            )
    return spec


def run(args: argparse.Namespace) -> int:
    root = project_root()
    cfg = config()
    marker = parse_marker(read_marker_bytes(root), root)
    recorded = manifest_mod.load(root)
    if args.action != "set":
        followed = followed_library(marker, recorded, cfg)
        doc = {
            "library": followed.spec,
            "said_by": followed.source,
            "revision": recorded.revision if recorded.library == followed.spec else None,
        }
        if args.json:
            emit_json(doc)
        else:
            print(f"{followed.spec}" + (f" @ {doc['revision']}" if doc["revision"] else ""))
        return EXIT_OK
    if args.spec is None:
        raise InvalidInput(
            "rulesync library set: name the library (`default`, a folder or URL[#ref])"
        )
    spec = _checked_spec(args.spec)
    text = marker.source.decode("utf-8")
    new_text = with_library(text, spec)
    new_marker = parse_marker(new_text.encode("utf-8"), root)
    # Trust, the fetch and the library itself are checked before the marker is touched.
    choose_library(new_marker, cfg, Fetching(), recorded)
    before = followed_library(marker, recorded, cfg).spec
    if new_text != text:
        write_marker(root, new_text)
    print(f"library: {before} → {spec}")
    result = sync_project(root, cfg, verbose=args.verbose, fetching=Fetching(fetched=True))
    print_result(result)
    return result.exit_code
