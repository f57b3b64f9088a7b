"""Read and validate the config (exit 2 with the key and what is wrong), and the web config it names
(certificate readable, key matching it, hashes bcrypt), then print how many watches and targets it has
and how the listener is protected.
"""

from __future__ import annotations

from jaga.commands import OK, add_command


def register(subparsers, common) -> None:
    add_command(subparsers, common, "check-config", run, "validate the config and exit", __doc__)


def run(config, args) -> int:
    from jaga.web.server import exposure_warning
    from jaga.web.webconfig import web_security
    security = web_security(config)   # ConfigError: exit 2 with the file, the key and what is wrong
    print(f"{config.source}: ok ({len(config.watch)} watch(es), {len(config.targets)} target(s))")
    print(f"listener {config.metrics.listen}: {security.describe()}")
    warning = exposure_warning(config.metrics.address, security)
    if warning:
        print(f"warning: {warning}")
    return OK
