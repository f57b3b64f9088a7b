"""This process as a writer of the journal: one incarnation per run, named after the config's node."""

from __future__ import annotations

from jaga import __version__
from journal.records import Incarnation


def incarnation(config, command: str) -> Incarnation:
    return Incarnation(node=config.node_name, command=command, version=__version__)
