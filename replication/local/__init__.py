"""A second local disk (or any mounted filesystem) as a replica target."""

from replication.local.target import LocalTarget

__all__ = ["LocalTarget"]
