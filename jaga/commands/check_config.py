"""Read and validate the config (exit 2 with the key and what is wrong), then print how many watches
and targets it has.
"""

from __future__ import annotations

from jaga.commands import OK, add_command


def register(subparsers, common) -> None:
    add_command(subparsers, common, "check-config", run, "validate the config and exit", __doc__)


def run(config, args) -> int:
    print(f"{config.source}: ok ({len(config.watch)} watch(es), {len(config.targets)} target(s))")
    return OK
