"""The web servers upload applications really run behind: PHP's built-in server with a handler that
calls move_uploaded_file(), and nginx with WebDAV PUT/MOVE. Each on a free loopback port, stopped by
its own pid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.servers.polling import accepts, free_port, wait_until

UPLOAD_PHP = """<?php
// what a PHP upload form's handler does: the temporary file PHP wrote becomes the upload
$name = basename($_FILES['f']['name']);
$dir = preg_replace('/[^A-Za-z0-9_-]/', '', $_GET['dir'] ?? '');
$dest = getenv('UPLOAD_DIR') . '/' . ($dir === '' ? '' : "$dir/") . $name;
@mkdir(dirname($dest), 0755, true);
if (is_uploaded_file($_FILES['f']['tmp_name']) && move_uploaded_file($_FILES['f']['tmp_name'], $dest)) {
    echo "stored $name\\n";
} else {
    http_response_code(500);
    echo "failed\\n";
}
"""


def missing(*names: str) -> str | None:
    absent = [name for name in names if shutil.which(name) is None]
    return f"{', '.join(absent)} not installed (.ci/run installs it)" if absent else None


class _Server:
    process: subprocess.Popen | None = None
    port: int = 0

    def _wait_listening(self, log: Path) -> None:
        wait_until(lambda: self.process.poll() is not None or accepts("127.0.0.1", self.port), timeout=15,
                   what=f"{type(self).__name__} listening")
        if self.process.poll() is not None:
            raise RuntimeError(f"{type(self).__name__} exited {self.process.returncode}: {log.read_text()[-500:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PhpServer(_Server):
    """``php -S`` serving upload.php; PHP writes request bodies to ``tmp_dir`` (``upload_tmp_dir``)."""

    def __init__(self, workdir: Path, uploads: Path, tmp_dir: Path):
        self.workdir, self.uploads, self.tmp_dir = workdir, uploads, tmp_dir
        self.port = free_port()

    def start(self) -> "PhpServer":
        docroot = self.workdir / "docroot"
        docroot.mkdir(parents=True, exist_ok=True)
        (docroot / "upload.php").write_text(UPLOAD_PHP)
        log = self.workdir / "php.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(docroot), "-d", f"upload_tmp_dir={self.tmp_dir}",
                 "-d", "upload_max_filesize=64M", "-d", "post_max_size=64M", "-d", "variables_order=EGPCS"],
                stdout=out, stderr=out, env={"UPLOAD_DIR": str(self.uploads), "PATH": "/usr/bin:/bin"})
        self._wait_listening(log)
        return self


class NginxServer(_Server):
    """nginx with ``dav_methods PUT DELETE MOVE`` rooted at the upload folder; request bodies are
    buffered in ``body_temp`` (the same filesystem: a rename; another one: nginx copies to
    ``<name>.<10 digits>`` beside the target, then renames)."""

    def __init__(self, workdir: Path, uploads: Path, body_temp: Path):
        self.workdir, self.uploads, self.body_temp = workdir, uploads, body_temp
        self.port = free_port()

    def start(self) -> "NginxServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        log = self.workdir / "error.log"
        conf.write_text(f"""
daemon off;
master_process off;
user root;
worker_processes 1;
pid {self.workdir / 'nginx.pid'};
error_log {log};
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {self.body_temp};
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.uploads};
        location / {{
            dav_methods PUT DELETE MOVE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
""")
        with open(log, "ab") as out:
            self.process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(self.workdir), "-e", str(log)],
                                            stdout=out, stderr=out)
        self._wait_listening(log)
        return self
