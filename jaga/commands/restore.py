"""Rebuild the upload tree from one target alone (its manifest, no journal needed), every file
hash-checked and written atomically; run it again to continue. Exit 1 when anything could not be
restored.
"""

from __future__ import annotations

import logging
import os

from jaga.commands import OK, PROBLEMS, add_command
from jaga.commands.dates import HELP, parse_moment
from replication.target import TargetDown, TargetError

log = logging.getLogger("jaga.restore")


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "restore", run,
                         "rebuild the upload tree from a replica", __doc__,
                         {OK: "every file is restored (or already in place)",
                          PROBLEMS: "a file was refused or failed, or the target is unavailable or has no marker"})
    parser.add_argument("--from", dest="source", metavar="NAME", required=True,
                        help="the target to restore from, by its name in the config")
    parser.add_argument("--to", dest="dest", metavar="DIR", required=True,
                        help="folder to restore into (created if missing; files already there and right are kept)")
    parser.add_argument("--at", metavar="TIME",
                        help=f"restore the versions current at this time (a day means its midnight): {HELP}")
    parser.add_argument("--path", dest="prefix", metavar="PREFIX",
                        help="only files under this folder, relative to the watched folder, e.g. hibah/2026")


def run(config, args) -> int:
    from replication.factory import build_target
    from replication.progress import Reporter
    from replication.restore import restore, select_versions
    at = parse_moment(args.at, "--at")
    target = build_target(config.target(args.source))
    dest = os.fsencode(os.path.abspath(args.dest))
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
    print(f"restored {report.restored} file(s), {report.bytes:,} bytes; {report.already_there} already in place;"
          f" {len(report.refused)} refused; {len(report.failed)} failed")
    for line in report.refused + report.failed:
        print(f"  {line}")
    return PROBLEMS if report.refused or report.failed else OK
