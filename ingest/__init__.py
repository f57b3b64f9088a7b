"""From upload folder to journal: events, completeness, reconcile scans, skipped paths."""
