"""A second local disk (or any mounted filesystem) as a replica target.

config.py holds its ``targets[]`` section, target.py its Target (imported only when built).
"""
