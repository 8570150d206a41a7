"""A TCP proxy for network-fault tests, in this test process's event loop.

Modes: `pass` (forward), `blackhole` (accept, forward nothing, answer nothing: a half-open
peer), `reset` (accept and reset at once), `delay` (forward each chunk after `delay_s`),
`close_mid_response` (forward requests, cut the connection after part of a reply).
Changing the mode also cuts every open connection, as a real fault would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.delay_s = 0.5
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.cut_all()

    def cut_all(self) -> None:
        for writer in list(self._writers):
            self._reset(writer)
        self._writers.clear()

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close sends RST, like a crashed peer
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        self._writers.add(writer)
        if mode == "reset":
            self._reset(writer)
            return
        if mode == "blackhole":
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            self._reset(writer)
            return
        self._writers.add(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer, mode, is_reply=False),
            self._pipe(upstream_reader, writer, mode, is_reply=True),
            return_exceptions=True,
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        mode: str,
        *,
        is_reply: bool,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if self.mode == "blackhole":
                    continue  # the fault started while connected: swallow everything
                if mode == "delay" or self.mode == "delay":
                    await asyncio.sleep(self.delay_s)
                if is_reply and self.mode == "close_mid_response" and len(data) > 1:
                    writer.write(data[: len(data) // 2])
                    await writer.drain()
                    self._reset(writer)
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
