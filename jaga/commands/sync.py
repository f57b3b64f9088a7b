"""One pass: reconcile the watched folders, replicate and verify everything pending, print the status
and exit (0 when everything is verified). Refused (exit 1) while `jaga run` writes the journal: the
daemon does this all the time.
"""

from __future__ import annotations

from jaga.commands import OK, PROBLEMS, add_command, refused
from jaga.commands.status import show_status


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "sync", run,
                         "one pass: reconcile, replicate and verify everything pending", __doc__,
                         {OK: "everything is verified on every target",
                          PROBLEMS: "something is still pending or failed (a target down, copies failing), "
                                    "or refused: `jaga run` writes this node's journal"})
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                        help="give up waiting for files to settle and copies to finish after this long (default 3600)")


def run(config, args) -> int:
    from jaga.daemon import Daemon
    from jaga.preflight import refuse_unusable
    from journal import JournalBusy
    refuse_unusable(config)
    daemon = Daemon(config, command="sync")
    try:
        all_verified = daemon.sync_once(args.timeout)
        show_status(config, daemon.journal, as_json=False)
    except JournalBusy as exc:
        return refused(exc, "it replicates continuously already (`jaga status` shows its backlog)")
    finally:
        daemon.journal.close()
    return OK if all_verified else PROBLEMS
