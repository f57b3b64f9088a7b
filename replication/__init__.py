"""Replica targets, the workers that fill them, verification and restore."""
