"""Read and validate the config and the web config it names (certificate readable, key matching it,
hashes bcrypt), then check it against this machine: the journal's state folder is writable, every
watch folder exists, every local target's parent folder exists, every SFTP target's known_hosts and
key file exist and are not empty. Exit 0 when `jaga run` can start with it (printing how many watches
and targets it has and how the listener is protected), 2 (one line per problem) when not.
"""

from __future__ import annotations

import sys

from jaga.commands import OK, USAGE, add_command


def register(subparsers, common) -> None:
    add_command(subparsers, common, "check-config", run, "validate the config and check it against this machine",
                __doc__,
                {OK: "the config is valid and can run on this machine"})


def run(config, args) -> int:
    from jaga.preflight import problems
    found = problems(config)
    for line in found:
        print(f"jaga: config error: {line}", file=sys.stderr)
    if found:
        return USAGE
    from jaga.web.server import exposure_warning
    from jaga.web.webconfig import web_security
    security = web_security(config)   # ConfigError: exit 2 with the file, the key and what is wrong
    print(f"{config.source}: ok ({len(config.watch)} watch(es), {len(config.targets)} target(s))")
    print(f"listener {config.metrics.listen}: {security.describe()}")
    warning = exposure_warning(config.metrics.address, security)
    if warning:
        print(f"warning: {warning}")
    return OK
