"""`jaga`: exit 0 = fine, 1 = problems found, 2 = usage or config error (with a clear message).

The verbs live in `jaga.commands`, one module each; this file holds what they share: the common
options (accepted before or after the verb) and `main`, which loads the config and maps errors to
exit codes.
"""

from __future__ import annotations

import argparse
import sys

from jaga import __version__
from jaga.commands import OK, PROBLEMS, USAGE, UsageError  # noqa: F401 (the exit codes live here too)
from jaga.commands import check_config, disks, init_target, report, restore, run, status, sync, verify
from jaga.config import ConfigError, load_config
from jaga.logs import setup_logging
from jaga.preflight import Unusable
from journal import JournalError

VERBS = (run, sync, status, check_config, init_target, disks, verify, restore, report)


def common_options() -> argparse.ArgumentParser:
    """-c and the log overrides, for the top parser and every verb. Unset they leave no value
    (SUPPRESS), so one given before the verb is not overwritten by the verb's parser; the defaults
    are set on the top parser only."""
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = parser.add_argument_group("common options (before or after the command)")
    group.add_argument("-c", "--config", metavar="FILE", help="config file (default ./config.yaml)")
    group.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       help="override logging.level")
    group.add_argument("--log-format", choices=["text", "json"], help="override logging.format")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaga", description="Keep uploaded files safe and disks watched. `jaga COMMAND --help` for each.",
        epilog="exit status: 0 fine; 1 problems found (each command's --help says which); 2 usage or config "
               "error", parents=[common_options()])
    # its own copy: set_defaults changes the actions, which parents share rather than copy
    parser.set_defaults(config="config.yaml", log_level=None, log_format=None)
    parser.add_argument("--version", action="version", version=f"jaga {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for verb in VERBS:
        verb.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"jaga: config error: {exc}", file=sys.stderr)
        return USAGE
    setup_logging(args.log_level or config.logging.level, args.log_format or config.logging.format)
    try:
        return args.handler(config, args)
    except Unusable as exc:
        for line in exc.problems:
            print(f"jaga: config error: {line}", file=sys.stderr)
        return USAGE
    except (ConfigError, UsageError) as exc:
        print(f"jaga: {exc}", file=sys.stderr)
        return USAGE
    except JournalError as exc:
        print(f"jaga: {exc}", file=sys.stderr)
        return PROBLEMS
    except KeyboardInterrupt:
        return PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
