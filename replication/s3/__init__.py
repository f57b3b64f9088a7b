"""An S3 bucket (AWS, MinIO, Ceph RGW, Garage) as a replica target."""

from replication.s3.target import S3Target

__all__ = ["S3Target"]
