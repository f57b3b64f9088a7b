"""One pass: reconcile the watched folders, replicate and verify everything pending, print the status
and exit (0 when everything is verified).
"""

from __future__ import annotations

from jaga.commands import OK, PROBLEMS, add_command
from jaga.commands.status import show_status


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "sync", run,
                         "one pass: reconcile, replicate and verify everything pending", __doc__,
                         {OK: "everything is verified on every target",
                          PROBLEMS: "something is still pending or failed (a target down, copies failing)"})
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                        help="give up waiting for files to settle and copies to finish after this long (default 3600)")


def run(config, args) -> int:
    from jaga.daemon import Daemon
    from jaga.preflight import refuse_unusable
    refuse_unusable(config)
    daemon = Daemon(config)
    try:
        all_verified = daemon.sync_once(args.timeout)
        show_status(config, daemon.journal, as_json=False)
    finally:
        daemon.journal.close()
    return OK if all_verified else PROBLEMS
