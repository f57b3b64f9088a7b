"""Run the daemon: watch the uploads, journal and replicate them, watch the disks. SIGTERM/SIGINT stop
it cleanly; SIGHUP reloads the config.
"""

from __future__ import annotations

from jaga.commands import OK, PROBLEMS, add_command


def register(subparsers, common) -> None:
    add_command(subparsers, common, "run", run, "the daemon", __doc__,
                {OK: "stopped cleanly (SIGTERM or SIGINT)", PROBLEMS: "stopped on an error (e.g. the journal failed)"})


def run(config, args) -> int:
    from jaga.daemon import Daemon
    from jaga.preflight import refuse_unusable
    refuse_unusable(config)
    Daemon(config).run_forever()
    return OK
