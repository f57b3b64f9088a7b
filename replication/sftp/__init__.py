"""A folder on an SSH server (OpenSSH's sftp-server or internal-sftp) as a replica target."""

from replication.sftp.target import SftpTarget

__all__ = ["SftpTarget"]
