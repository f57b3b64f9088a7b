"""Run the daemon: watch the uploads, journal and replicate them, watch the disks. SIGTERM/SIGINT stop
it cleanly; SIGHUP reloads the config. Exit 1 when it cannot start (another jaga process writes this
node's journal, its port is taken) or had to stop writing.
"""

from __future__ import annotations

import sys

from jaga.commands import OK, PROBLEMS, add_command, refused

# Seconds a thread back from a syscall may wait for the GIL while another runs Python (default 5 ms).
# A copy makes some twenty syscalls and the journal's threads run SQLAlchemy meanwhile, so at the
# default the copies queue behind them at every syscall (a convoy); 1 ms keeps them moving under
# churn (docs/performance.md, E).
SWITCH_INTERVAL = 0.001


def register(subparsers, common) -> None:
    add_command(subparsers, common, "run", run, "the daemon", __doc__,
                {OK: "stopped cleanly (SIGTERM or SIGINT)",
                 PROBLEMS: "could not start (another jaga process writes this node's journal, the port is "
                           "taken) or stopped on an error (e.g. the journal failed)"})


def run(config, args) -> int:
    from jaga.daemon import Daemon, StartupError
    from jaga.preflight import refuse_unusable
    from journal import JournalBusy
    refuse_unusable(config)
    sys.setswitchinterval(SWITCH_INTERVAL)
    daemon = Daemon(config)
    try:
        daemon.run_forever()
    except JournalBusy as exc:
        return refused(exc, "stop it first; one jaga process writes a node's journal at a time")
    except StartupError as exc:
        print(f"jaga: {exc}", file=sys.stderr)
        return PROBLEMS
    if daemon.fatal:
        print(f"jaga: {daemon.fatal}", file=sys.stderr)
        return PROBLEMS
    return OK
