"""A folder on an SSH server (OpenSSH's sftp-server or internal-sftp) as a replica target.

config.py holds its ``targets[]`` section, target.py its Target (imported only when built).
"""
