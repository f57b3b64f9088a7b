"""jaga's few kinds of hint about a path in a watched tree (relative to its root, as bytes). Lost
events are not a hint: the watcher asks for a rescan of the subtree they may have been about."""

from __future__ import annotations

from enum import Enum


class Hint(Enum):
    CLOSED = "closed"          # closed after writing: complete now (unless another writer holds it)
    MOVED_IN = "moved_in"      # renamed into place inside the tree: complete now (same proviso)
    CHANGING = "changing"      # created, written or its metadata changed, no close yet
    DELETED = "deleted"        # gone from the primary (checked again: it may be back); replicas stay
    DIR_APPEARED = "dir"       # a folder created or moved in: its files may predate its watch
    DIR_GONE = "dir_gone"      # a folder deleted or moved away: what was journaled below it is gone
