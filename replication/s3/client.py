"""Building the boto3 client (credentials from the config's keys, the environment, a profile or a file) and turning
botocore's errors into TargetDown / TargetError. Credentials are read by botocore, never by jaga,
and never appear in a message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError as BotoConnectionError,
                                 CredentialRetrievalError, FlexibleChecksumError, HTTPClientError,
                                 NoCredentialsError, PartialCredentialsError, ProfileNotFound)

from replication.s3.config import S3TargetConfig
from replication.s3.upload import PARTS_IN_FLIGHT

SMALL_PER_WORKER = 4  # S3Target.small_copies_per_worker
from replication.target import TargetDown, TargetError

DOWN_CODES = {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
              "ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
SIGNING_LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.awsrequest")


def make_client(config: S3TargetConfig):
    """A thread-safe S3 client; raises TargetDown when the credentials setup is unusable."""
    _hide_signing_details()
    try:
        core = botocore.session.Session(profile=config.profile)
        if config.credentials_file is not None:
            core.set_config_variable("credentials_file", str(config.credentials_file))
        keys = {} if config.access_key_id is None else {
            "aws_access_key_id": config.access_key_id.get_secret_value(),
            "aws_secret_access_key": config.secret_access_key.get_secret_value()}
        session = boto3.session.Session(botocore_session=core, region_name=config.region, **keys)
        return session.client("s3", endpoint_url=config.endpoint_url, config=client_config(config))
    except ProfileNotFound as exc:
        raise TargetDown(f"target {config.name}: {exc}") from None


def client_config(config: S3TargetConfig) -> Config:
    # Path-style addressing for self-hosted stores (MinIO, Ceph RGW, Garage); AWS picks its own.
    # Checksums are sent explicitly by jaga, so botocore's automatic CRC trailers (which older
    # S3-compatible servers reject) are switched off.
    # Connections: one per copy in flight (S3Target takes SMALL_PER_WORKER small files per worker), plus
    # the parts of big uploads in flight and the dispatcher's manifest segment (botocore's default pool of 10 made workers beyond it wait for a connection).
    return Config(connect_timeout=config.timeout, read_timeout=config.timeout,
                  max_pool_connections=max(10, config.workers * (SMALL_PER_WORKER + PARTS_IN_FLIGHT) + 2),
                  retries={"mode": "standard", "total_max_attempts": 2},
                  s3={"addressing_style": "path" if config.endpoint_url else "auto"},
                  request_checksum_calculation="when_required",
                  response_checksum_validation="when_required")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_missing(exc: ClientError) -> bool:
    return error_code(exc) in MISSING_CODES


@contextmanager
def translate(what: str, where: str, path: bytes | None = None) -> Iterator[None]:
    """botocore errors → TargetDown (unreachable, no credentials, no bucket) or TargetError.

    botocore's connection errors quote the request URL, which holds the object key (the upload's
    path): only their kind goes into the message; ``path`` travels apart (TargetFailure)."""
    try:
        yield
    except (TargetDown, TargetError, FileNotFoundError, ValueError):
        raise
    except (BotoConnectionError, HTTPClientError) as exc:
        raise TargetDown(f"{what}: {where} unreachable ({_kind(exc)})", path=path) from None
    except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as exc:
        raise TargetDown(f"{what}: no usable credentials for {where} "
                         f"(environment, profile or credentials_file): {type(exc).__name__}") from None
    except ClientError as exc:
        kind = TargetDown if error_code(exc) in DOWN_CODES else TargetError
        raise kind(f"{what}: {where}: {exc}", path=path) from None
    except FlexibleChecksumError:
        raise TargetError(f"{what}: the bytes read back do not match the stored checksum", path=path) from None
    except BotoCoreError as exc:
        raise TargetError(f"{what}: {where}: {type(exc).__name__}", path=path) from None


def _kind(exc: Exception) -> str:
    """'connection refused', 'timed out', or the error's class: never its text, which quotes the URL."""
    cause = getattr(exc, "kwargs", {}).get("error")
    for _ in range(5):
        if cause is None or isinstance(cause, OSError):
            break
        cause = cause.__context__ or getattr(cause, "reason", None)
    if isinstance(cause, TimeoutError) or "Timeout" in type(exc).__name__:
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return type(exc).__name__


class _DropSigning(logging.Filter):
    """Drop debug records that would print request signatures or Authorization headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot even be formatted is not worth the risk
            return False
        return not any(word in text for word in ("Authorization", "Signature", "X-Amz-Security-Token",
                                                 "aws_secret_access_key", "SecretAccessKey"))


def _hide_signing_details() -> None:
    for name in SIGNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropSigning) for f in logger.filters):
            logger.addFilter(_DropSigning())
