"""jaga: keeps a public upload server's files safe and its disks watched."""

__version__ = "0.1.0"
