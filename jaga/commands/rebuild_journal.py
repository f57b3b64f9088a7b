"""Take a target's history into the journal from the target's own manifest: files, versions, hashes and
verified replicas, so that a journal lost with the primary disk loses no history and numbering
continues from the target's. The daemon does this by itself at start when its journal knows no file;
use this verb when it could not (the target was unreachable then) or for another target. Stop the
daemon first. Exit 1 when the target cannot be read or some versions conflict with the journal's.
"""

from __future__ import annotations

from jaga.commands import OK, PROBLEMS, add_command


EXITS = {OK: "the target's history is in the journal",
         PROBLEMS: "the daemon is running, the target is unavailable, has no marker or another marker than the "
                   "journal's, or some versions conflict with the journal's"}


def register(subparsers, common) -> None:
    summary = "take a target's history (its manifest) into the journal"
    parser = add_command(subparsers, common, "rebuild-journal", run, summary, __doc__, EXITS)
    parser.add_argument("--from", dest="source", metavar="NAME", required=True,
                        help="the target whose manifest is read, by its name in the config")


def run(config, args) -> int:
    from journal import Journal
    from replication.factory import build_target
    from replication.rebuild import adopt
    from replication.target import TargetDown, TargetError
    target_config = config.target(args.source)
    if _listening(config):
        print(f"jaga: something answers on metrics.listen ({config.metrics.listen}): is the daemon running on "
              "this config? stop it first (systemctl stop jaga)")
        return PROBLEMS
    target = build_target(target_config)
    journal = Journal(config.journal.url)
    try:
        journal.migrate()
        marker = target.read_marker()
        if marker is None:
            print(f"jaga: target {args.source} has no marker: is it mounted / the right place?")
            return PROBLEMS
        report = adopt(target, journal, marker, {w.label for w in config.watch})
    except (TargetDown, TargetError) as exc:
        print(f"jaga: target {args.source}: {exc}")
        return PROBLEMS
    finally:
        journal.close()
        target.close()
    print(f"target {args.source}: {report.files} file(s) and {report.versions} version(s) added, {report.replicas} "
          f"verified replica(s) recorded, {report.renumbered} file(s) renumbered, {report.skipped} manifest "
          f"line(s) skipped, {len(report.conflicts)} conflict(s)")
    for conflict in report.conflicts:
        print(f"  {conflict}")
    return PROBLEMS if report.conflicts else OK


def _listening(config) -> bool:
    """The daemon's listener answers: it would be writing the same journal at the same time."""
    import socket
    host, port = config.metrics.address
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True
