"""One module per `jaga` verb (Litestream's ``cmd/litestream/<verb>.go``): each registers its own
subparser (its docstring is the description `--help` shows) and holds its handler; the libraries it
calls return reports, and only these modules print.

The heavy imports (the daemon, rich, the backends) stay inside the handlers: every verb module is
loaded to build the parser, and ``jaga status`` should not pay for the daemon.
"""

import argparse

OK, PROBLEMS, USAGE = 0, 1, 2  # fine; problems found; usage or config error


class UsageError(Exception):
    """An argument the parser accepted but the command cannot use; printed as one line, exit 2."""


CONFIG_ERROR = "a usage or config error, or a config that cannot run here (one line each; see check-config)"


def add_command(subparsers, common, name: str, run, summary: str, description: str, exits: dict[int, str]):
    """The verb's subparser, with the common options, its handler and its exit statuses (``--help``
    lists them); the verb adds its own options."""
    lines = [f"  {code}  {meaning}" for code, meaning in sorted({**exits, USAGE: CONFIG_ERROR}.items())]
    parser = subparsers.add_parser(name, parents=[common], help=summary, description=description,
                                   epilog="exit status:\n" + "\n".join(lines),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=run)
    return parser
