"""`rulesync log`: the project's rule history from rulesync's commits."""

from __future__ import annotations

import argparse

from rulesync.commands._common import config, project_root
from rulesync.errors import InvalidInput
from rulesync.git import find_git, rulesync_log
from rulesync.gitlog import trailers
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    root = project_root()
    git = find_git(root)
    if git is None:
        raise InvalidInput(f"{root}: not a git repository, so there is no rule history")
    entries = rulesync_log(git.top, config().commit_author[1], limit=args.max_count)
    if args.json:
        emit_json(
            [
                {"sha": e.sha, "date": e.date, "subject": e.subject, "trailers": trailers(e.body)}
                for e in entries
            ]
        )
        return 0
    for entry in entries:
        print(f"{entry.sha[:10]} {entry.date[:19]} {entry.subject}")
    if not entries:
        print("no rulesync commits yet")
    return 0
