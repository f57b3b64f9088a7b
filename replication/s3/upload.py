"""Uploading one object with a SHA-256 S3 checks, so that the stored checksum covers the whole object.

Up to the threshold: one PutObject carrying x-amz-checksum-sha256 of the body (S3 refuses the body
if it does not match). Above it: a multipart upload to a temporary object, each part carrying its
own SHA-256 (checked by S3 part by part), then one server-side CopyObject to the final name with
ChecksumAlgorithm SHA256, which makes S3 compute a full-object SHA-256 from the stored bytes; jaga
compares it with the hash it computed while streaming. Both PutObject and CopyObject replace the
final object atomically: readers see the old object or the new one, never a part.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from replication.target import TargetError

log = logging.getLogger(__name__)

MIN_PART = 5 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024  # parts of a multipart upload: 10,000 of them reach S3's 5 GiB copy limit
PARTS_IN_FLIGHT = 4           # parts sent at once: 4 × 16 MiB held in memory at most, per big upload
COPY_LIMIT = 5 * 1024 ** 3


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def hex_of(checksum: str) -> str:
    return base64.b64decode(checksum).hex()


def metadata(sha256_hex: str, mtime_ns: int) -> dict[str, str]:
    return {"sha256": sha256_hex, "mtime-ns": str(mtime_ns)}


def read_up_to(chunks: Iterator[bytes], limit: int) -> tuple[bytearray, bool]:
    """Buffer chunks until more than ``limit`` bytes; returns (buffer, whether chunks ran out)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            return buffer, False
    return buffer, True


def put_small(client, bucket: str, name: str, body: bytes, mtime_ns: int) -> bool:
    """One PutObject; True when S3's reply gives back the SHA-256 it computed over the stored bytes and
    it is ours (S3 refuses a body that does not match, and says which checksum it kept), so no HEAD
    is needed to prove the replica. False: a store that does not say (checksum() asks it)."""
    digest = hashlib.sha256(body)
    sent = b64(digest.digest())
    reply = client.put_object(Bucket=bucket, Key=name, Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=sent,
                              Metadata=metadata(digest.hexdigest(), mtime_ns))
    return _confirmed(reply.get("ChecksumSHA256"), digest.hexdigest())


def _confirmed(stored: str | None, sent_hex: str) -> bool:
    """Whether the store's own full-object SHA-256 (base64) is ``sent_hex``; a different one is an error."""
    if not stored or "-" in stored:
        return False
    if hex_of(stored) != sent_hex:
        raise TargetError(f"S3 computed SHA-256 {hex_of(stored)} for the stored object, jaga sent {sent_hex}")
    return True


def put_large(client, bucket: str, name: str, temp: str, head: bytearray, rest: Iterator[bytes],
              part_size: int, mtime_ns: int, parallel: int = PARTS_IN_FLIGHT) -> bool:
    """Multipart to ``temp`` (``parallel`` parts in flight), then copy to ``name`` with a full-object
    SHA-256; True when S3 returned that SHA-256 and it is the one jaga computed (see put_small)."""
    digest, size = _multipart(client, bucket, temp, _parts(head, rest, max(part_size, MIN_PART)), parallel)
    try:
        if size > COPY_LIMIT:
            raise TargetError(f"{size} bytes: objects above 5 GiB cannot get a full-object SHA-256 "
                              "through CopyObject; not supported yet")
        result = client.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": temp},
                                    MetadataDirective="REPLACE", Metadata=metadata(digest, mtime_ns),
                                    ChecksumAlgorithm="SHA256")
    finally:
        delete_quietly(client, bucket, temp)
    return _confirmed(result.get("CopyObjectResult", {}).get("ChecksumSHA256"), digest)


def _multipart(client, bucket: str, temp: str, parts: Iterable[bytes], parallel: int) -> tuple[str, int]:
    """Upload the parts, up to ``parallel`` at once (each carrying its own SHA-256, which S3 checks), while
    the whole object's SHA-256 is taken in order on this thread; (hex digest, size)."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=temp, ChecksumAlgorithm="SHA256")["UploadId"]
    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="s3-part")
    try:
        whole, sending, size = hashlib.sha256(), deque(), 0
        done = []
        for number, part in enumerate(parts, 1):
            whole.update(part)
            size += len(part)
            sending.append(pool.submit(_upload_part, client, bucket, temp, upload_id, number, part))
            while len(sending) >= max(1, parallel):  # at most ``parallel`` parts held in memory
                done.append(sending.popleft().result())
        done += [future.result() for future in sending]
        client.complete_multipart_upload(Bucket=bucket, Key=temp, UploadId=upload_id,
                                         MultipartUpload={"Parts": done})
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=temp, UploadId=upload_id)
        except Exception:  # remove_temporaries() aborts it later
            log.debug("could not abort multipart upload of %s", temp, exc_info=True)
        raise
    pool.shutdown(wait=True)
    return whole.hexdigest(), size


def _upload_part(client, bucket: str, temp: str, upload_id: str, number: int, part: bytes) -> dict:
    checksum = b64(hashlib.sha256(part).digest())
    reply = client.upload_part(Bucket=bucket, Key=temp, UploadId=upload_id, PartNumber=number, Body=part,
                               ChecksumSHA256=checksum)
    return {"PartNumber": number, "ETag": reply["ETag"], "ChecksumSHA256": checksum}


def _parts(head: bytearray, rest: Iterator[bytes], part_size: int) -> Iterator[bytes]:
    buffer = head
    for chunk in rest:
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(buffer[:part_size])
            del buffer[:part_size]
    while len(buffer) > part_size:
        yield bytes(buffer[:part_size])
        del buffer[:part_size]
    if buffer:
        yield bytes(buffer)


def delete_quietly(client, bucket: str, name: str) -> None:
    try:
        client.delete_object(Bucket=bucket, Key=name)
    except Exception:  # a temporary left behind is swept by remove_temporaries()
        log.debug("could not delete %s", name, exc_info=True)
