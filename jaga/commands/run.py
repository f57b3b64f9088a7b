"""Run the daemon: watch the uploads, journal and replicate them, watch the disks. SIGTERM/SIGINT stop
it cleanly; SIGHUP reloads the config.
"""

from __future__ import annotations

import sys

from jaga.commands import OK, PROBLEMS, add_command

# Seconds a thread back from a syscall may wait for the GIL while another runs Python (default 5 ms).
# A copy makes some twenty syscalls and the journal's threads run SQLAlchemy meanwhile, so at the
# default the copies queue behind them at every syscall (a convoy); 1 ms keeps them moving under
# churn (docs/performance.md, E).
SWITCH_INTERVAL = 0.001


def register(subparsers, common) -> None:
    add_command(subparsers, common, "run", run, "the daemon", __doc__,
                {OK: "stopped cleanly (SIGTERM or SIGINT)", PROBLEMS: "stopped on an error (e.g. the journal failed)"})


def run(config, args) -> int:
    from jaga.daemon import Daemon
    from jaga.preflight import refuse_unusable
    refuse_unusable(config)
    sys.setswitchinterval(SWITCH_INTERVAL)
    Daemon(config).run_forever()
    return OK
