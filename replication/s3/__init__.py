"""An S3 bucket (AWS, MinIO, Ceph RGW, Garage) as a replica target.

config.py holds its ``targets[]`` section, target.py its Target (imported only when built).
"""
