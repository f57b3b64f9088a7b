"""Write the target's .jaga-target marker and record its id in the journal; a target without it is down
and receives nothing.
"""

from __future__ import annotations

from jaga.commands import OK, PROBLEMS, add_command


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "init-target", run,
                         "write the marker that proves a target root is the target", __doc__,
                         {OK: "the marker is written and recorded", PROBLEMS: "the journal could not record it"})
    parser.add_argument("name", help="the target's name in the config")
    parser.add_argument("--force", action="store_true", help="replace an existing marker (a new disk)")


def run(config, args) -> int:
    from journal import Journal
    from replication.factory import build_target
    from replication.readiness import initialise
    target = build_target(config.target(args.name), config.node_name)
    journal = Journal(config.journal.url)
    try:
        journal.migrate()
        marker = initialise(target, journal, force=args.force, watches={w.label for w in config.watch})
    finally:
        journal.close()
        target.close()
    print(f"target {args.name}: marker {marker.marker_id}")
    return OK
