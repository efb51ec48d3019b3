"""`rulesync log`: the project's rule history from rulesync's commits."""

from __future__ import annotations

import argparse

from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_OK, InvalidInput
from rulesync.git import find_git, project_history
from rulesync.gitlog import trailers
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    root = project_root()
    git = find_git(root)
    if git is None:
        raise InvalidInput(f"{root}: not a git repository, so there is no rule history")
    limit = args.max_count
    if limit is not None and limit < 0:
        raise InvalidInput(f"rulesync log -n {limit}: the count must be 0 or more")
    # `-n 0` asks for no commit at all, as with git.
    entries = [] if limit == 0 else project_history(root, git, config(), limit)
    if args.json:
        emit_json(
            [
                {"sha": e.sha, "date": e.date, "subject": e.subject, "trailers": trailers(e.body)}
                for e in entries
            ]
        )
        return EXIT_OK
    for entry in entries:
        print(f"{entry.sha[:10]} {entry.date[:19]} {entry.subject}")
        for key, value in trailers(entry.body).items():
            print(f"    {key}: {value}")
    if not entries and limit != 0:
        print("no rulesync commits yet")
    return EXIT_OK
