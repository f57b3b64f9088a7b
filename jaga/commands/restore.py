"""Rebuild the upload tree from one target alone (its manifest, no journal needed), every file
hash-checked and written atomically; run it again to continue. A file already there with other bytes
is moved aside to .jaga-aside/<time>/ in the folder, never overwritten. Exit 1 when anything could not
be restored. Into a watched folder it takes the journal's writer lock, so it is refused (exit 1) while
`jaga run` watches that folder, and a daemon started meanwhile waits for it. From a shared target (a fleet's
bucket) it restores one node's tree, this config's node unless --node names another: from the bucket alone.
"""

from __future__ import annotations

import logging
import os

from common.configtypes import NAME
from jaga.commands import OK, PROBLEMS, UsageError, add_command, refused
from jaga.commands.dates import HELP, parse_moment
from replication.target import TargetDown, TargetError

log = logging.getLogger("jaga.restore")


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "restore", run,
                         "rebuild the upload tree from a replica", __doc__,
                         {OK: "every file is restored (or already in place)",
                          PROBLEMS: "a file was refused or failed, or the target is unavailable or has no marker; "
                                    "or refused: into a watched folder while `jaga run` writes the journal"})
    parser.add_argument("--from", dest="source", metavar="NAME", required=True,
                        help="the target to restore from, by its name in the config")
    parser.add_argument("--to", dest="dest", metavar="DIR", required=True,
                        help="folder to restore into (created if missing; files already there and right are kept, "
                             "others moved aside to DIR/.jaga-aside/<time>/)")
    parser.add_argument("--node", metavar="NAME",
                        help="from a shared target: whose tree to restore (default: this config's node, "
                             "`node:` or the hostname)")
    parser.add_argument("--at", metavar="TIME",
                        help=f"restore the versions current at this time (a day means its midnight): {HELP}")
    parser.add_argument("--path", dest="prefix", metavar="PREFIX",
                        help="only files under this folder, relative to the watched folder, e.g. hibah/2026")


def run(config, args) -> int:
    from replication.factory import build_target
    from replication.progress import Reporter
    from replication.restore import restore, select_versions
    from journal import JournalBusy
    at = parse_moment(args.at, "--at")
    source = config.target(args.source)
    node = _node(config, source, args.node)
    dest = os.fsencode(os.path.abspath(args.dest))
    try:
        journal = _lock_if_watched(config, dest)
    except JournalBusy as exc:
        return refused(exc, "stop it before restoring into a watched folder, or restore into another folder")
    target = build_target(source, node)
    try:
        if target.read_marker() is None:
            print(f"jaga: target {args.source} has no marker: is it mounted / the right place?")
            return PROBLEMS
        entries = select_versions(target.read_manifest(), at, os.fsencode(args.prefix) if args.prefix else None)
        os.makedirs(dest, exist_ok=True)
        with Reporter(f"restore from {args.source}", sum(e.size for e in entries), log) as reporter:
            report = restore(target, dest, entries, reporter)
    except (TargetDown, TargetError) as exc:
        print(f"jaga: target {args.source} is unavailable: {exc}")
        return PROBLEMS
    finally:
        target.close()
        if journal is not None:
            journal.close()
    if report.leftovers_removed:
        print(f"removed {report.leftovers_removed} temporary file(s) left by an interrupted restore")
    print(f"restored {report.restored} file(s), {report.bytes:,} bytes; {report.already_there} already in place;"
          f" {len(report.moved_aside)} moved aside; {len(report.refused)} refused; {len(report.failed)} failed")
    for path, aside in report.moved_aside:
        print(f"  {path}: held other bytes, moved aside to {aside}")
    for line in report.refused + report.failed:
        print(f"  {line}")
    return PROBLEMS if report.refused or report.failed else OK


def _node(config, source, node: str | None) -> str:
    """Whose tree: any node's on a shared target; on a node-local one only this server's is there."""
    own = config.node_name
    if node is not None and not NAME.match(node):
        raise UsageError(f"--node {node!r}: a node name is letters, digits, '-', '_' or '.'")
    if node not in (None, own) and not source.shared:
        raise UsageError(f"--node {node}: target {source.name} is not shared, it holds this server's files only "
                          f"(node {own}); restore another node's tree from a shared target")
    return node or own


def _lock_if_watched(config, dest: bytes):
    """Into (or above) a watched folder: the journal, holding the writer lock; None elsewhere, and when
    the journal cannot be reached (a restore must work without it). JournalBusy while a daemon runs."""
    if not any(_overlaps(dest, os.fsencode(watch.path)) for watch in config.watch):
        return None
    from jaga.writer import incarnation
    from journal import Journal, JournalBusy, JournalError
    journal = Journal(config.journal.url)
    try:
        journal.lock_writer(incarnation(config, "restore"))
        return journal
    except JournalBusy:
        journal.close()
        raise
    except JournalError as exc:
        journal.close()
        log.warning("restoring without the journal's writer lock (a daemon started meanwhile would not wait): %s",
                    exc)
        return None


def _overlaps(a: bytes, b: bytes) -> bool:
    a, b = os.path.realpath(a), os.path.realpath(b)
    return a == b or a.startswith(b.rstrip(b"/") + b"/") or b.startswith(a.rstrip(b"/") + b"/")
