"""S2. to S3: a burst of 2,000 × 64 KiB, and one 256 MiB file, to moto's S3 server on loopback (the
tests' tests/servers/moto_s3.py, in a process of its own, new for every trial), against
``rclone copy`` with an s3 remote (``provider = Other``, the same endpoint and keys).

jaga's figure runs until the last object is verified: each sent with its SHA-256, which S3 checks
(a multipart upload part by part, then a full-object SHA-256 by a server-side copy), its manifest
segment written before the journal says verified. rclone checks the MD5 of each object (its ETag)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from bench.bigfile import time_big_upload
from bench.burst import jaga_burst
from bench.context import Context
from bench.jagaproc import REPO, JagaDaemon
from bench.peers import rclone_copy, write_rclone_config
from bench.report import Row
from bench.stats import median
from bench.util import fresh, settle_disk
from bench.workload import KIB, MIB, specs, write_tree

TIMEOUT = 900.0
SERVE = """
import sys
from tests.servers.moto_s3 import MotoS3
moto = MotoS3.start()
print(moto.port, flush=True)
sys.stdin.read()
moto.stop()
"""


@contextmanager
def moto_server(base: Path):
    """moto's S3 server in a child process: its GIL and memory are its own, and gone after the trial."""
    log = open(base / "moto.log", "wb")
    process = subprocess.Popen([sys.executable, "-c", SERVE], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=log)
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def run(ctx: Context, count: int, big: int, repeats: int) -> list[Row]:
    base = fresh(ctx.ws / "S2")
    stage = base / "stage" / "burst"
    stage.mkdir(parents=True)
    write_tree(ctx.payload, str(stage), specs(count, 64 * KIB, 64 * KIB, seed=41, prefix="o"))
    big_file = base / "stage-big" / "big.bin"
    big_file.parent.mkdir()
    ctx.payload.write_big(str(big_file), big)
    results = {"burst": {"jaga": [], "rclone": []}, "big": {"jaga": [], "rclone": []}}
    try:
        for index in range(repeats):
            for kind, source in (("burst", stage), ("big", big_file)):
                settle_disk()
                with moto_server(base) as endpoint:  # a fresh, empty server for each tool
                    rclone = _rclone_config(base, endpoint)
                    results[kind]["rclone"].append(rclone_copy(rclone, source, f"s3:rclone-{index}/{kind}",
                                                                         without_aws_environment()))
                settle_disk()
                with moto_server(base) as endpoint:
                    run_jaga = _jaga_burst if kind == "burst" else _jaga_big
                    results[kind]["jaga"].append(run_jaga(ctx, base, endpoint, f"jaga-{index}", source, count))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return _rows(results, count, big)


def without_aws_environment() -> dict:
    """This environment less AWS_* (a CA bundle, keys or a profile meant for somewhere else)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


def _rclone_config(base: Path, endpoint: str) -> Path:
    from tests.servers.moto_s3 import ACCESS_KEY, SECRET_KEY
    return write_rclone_config(base / "rclone.conf", "s3", {
        "type": "s3", "provider": "Other", "endpoint": endpoint, "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY, "region": "us-east-1"})


def _daemon(ctx: Context, base: Path, endpoint: str, bucket: str) -> JagaDaemon:
    from tests.servers.moto_s3 import ACCESS_KEY, SECRET_KEY
    home = fresh(base / bucket)
    credentials = home / "aws-credentials"
    credentials.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    credentials.chmod(0o600)
    env = {**without_aws_environment(), "AWS_CONFIG_FILE": str(home / "no-aws-config")}
    target = {"name": "cloud", "type": "s3", "bucket": bucket, "prefix": "replica/", "endpoint_url": endpoint,
              "region": "us-east-1", "credentials_file": str(credentials)}
    return JagaDaemon(home, ctx.source, extra={"targets": [target]}, env=env)


def _jaga_burst(ctx: Context, base: Path, endpoint: str, bucket: str, stage: Path, count: int) -> float:
    return jaga_burst(_daemon(ctx, base, endpoint, bucket), stage, count)


def _jaga_big(ctx: Context, base: Path, endpoint: str, bucket: str, source: Path, _count: int) -> float:
    """The upload pattern of C: ``.big.bin.part`` (ignored) renamed to its final name in the watch."""
    return time_big_upload(_daemon(ctx, base, endpoint, bucket), source)


def _rows(results: dict, count: int, big: int) -> list[Row]:
    rows = []
    for kind, label in (("burst", f"S2 S3 burst ({count} × 64 KiB)"), ("big", f"S2 S3 one {big // MIB} MiB file")):
        rows.append(Row(label, "all verified vs rclone copy", "s", median(results[kind]["jaga"]),
                        median(results[kind]["rclone"]), "rclone copy", "≤ 1.0 × rclone", "ratio<=", 1.0,
                        results[kind]))
    return rows
