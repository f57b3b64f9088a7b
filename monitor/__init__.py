"""Disk and filesystem health, alerts and metrics."""
