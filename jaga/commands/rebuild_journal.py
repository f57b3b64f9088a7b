"""Take a target's history into the journal from the target's own manifest: files, versions, hashes and
verified replicas, so that a journal lost with the primary disk loses no history and numbering
continues from the target's. The daemon does this by itself at start when its journal knows no file;
use this verb when it could not (the target was unreachable then) or for another target. Stop the
daemon first. Exit 1 when the target cannot be read or some versions conflict with the journal's.
"""

from __future__ import annotations

from jaga.commands import OK, PROBLEMS, add_command, refused


EXITS = {OK: "the target's history is in the journal",
         PROBLEMS: "refused: `jaga run` writes this node's journal; the target is unavailable, has no marker or another marker than the "
                   "journal's, or some versions conflict with the journal's"}


def register(subparsers, common) -> None:
    summary = "take a target's history (its manifest) into the journal"
    parser = add_command(subparsers, common, "rebuild-journal", run, summary, __doc__, EXITS)
    parser.add_argument("--from", dest="source", metavar="NAME", required=True,
                        help="the target whose manifest is read, by its name in the config")


def run(config, args) -> int:
    from jaga.writer import incarnation
    from journal import Journal, JournalBusy
    from replication.factory import build_target
    from replication.rebuild import adopt
    from replication.target import TargetDown, TargetError
    target_config = config.target(args.source)
    target = build_target(target_config, config.node_name)
    journal = Journal(config.journal.url)
    try:
        journal.lock_writer(incarnation(config, "rebuild-journal"))
    except JournalBusy as exc:
        journal.close()
        target.close()
        return refused(exc, "stop it first (systemctl stop jaga)")
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

