"""Is a folder really watched? watchdog swallows a failed inotify_add_watch (e.g. ENOSPC when
fs.inotify.max_user_watches is reached) for anything below the root, so jaga asks it directly.

This reads one private field of watchdog's inotify backend; if a future watchdog renames it, the
check answers "unknown" (None) and jaga falls back on its periodic reconcile, saying so once.
"""

from __future__ import annotations

import os


def is_watched(observer, path: bytes) -> bool | None:
    """True/False when watchdog's inotify backend can tell, None when it cannot."""
    known = None
    for emitter in list(getattr(observer, "emitters", ())):
        group = getattr(emitter, "_inotify", None)
        watched = getattr(group, "_active_callbacks_by_path", None)
        if watched is None:
            continue
        known = False
        if os.fsencode(path) in watched:
            return True
    return known
