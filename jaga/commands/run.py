"""Run the daemon: watch the uploads, journal and replicate them, watch the disks. SIGTERM/SIGINT stop
it cleanly; SIGHUP reloads the config.
"""

from __future__ import annotations

from jaga.commands import OK, add_command


def register(subparsers, common) -> None:
    add_command(subparsers, common, "run", run, "the daemon", __doc__)


def run(config, args) -> int:
    from jaga.daemon import Daemon
    Daemon(config).run_forever()
    return OK
