"""An asyncio TCP proxy for fault tests: in front of PostgreSQL it refuses, hangs and drops
connections (a failover); in front of several `stateof run` processes it balances
connections over them (round robin), like a load balancer in front of HTTP workers.

    proxy = await TCPProxy([("127.0.0.1", 5432)]).start()
    proxy.hang()     # new and open connections stall: nothing is forwarded
    proxy.drop()     # every open connection is cut (RST)
    proxy.refuse()   # new connections are closed at once
    proxy.heal()     # back to forwarding
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

log = logging.getLogger(__name__)

PASS, HANG, REFUSE = "pass", "hang", "refuse"


class TCPProxy:
    """Forwards 127.0.0.1:`port` to the targets, one target per connection in turn."""

    def __init__(self, targets: list[tuple[str, int]]):
        if not targets:
            raise ValueError("a proxy needs at least one target")
        self.targets = list(targets)
        self._turn = itertools.cycle(range(len(self.targets)))
        self.mode = PASS
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.connections = 0  # accepted
        self.per_target = [0] * len(self.targets)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the proxy first"
        return self._server.sockets[0].getsockname()[1]

    async def start(self, port: int = 0) -> TCPProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        return self

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> TCPProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- faults ------------------------------------------------------------------------------
    def hang(self) -> None:
        """Stop forwarding: open connections stall, new ones are accepted and get nothing."""
        self.mode = HANG
        self._flowing.clear()

    def refuse(self) -> None:
        """New connections are closed at once (open ones keep working until dropped)."""
        self.mode = REFUSE
        self._flowing.set()

    def drop(self) -> None:
        """Cut every open connection (both sides see a reset)."""
        for writer in list(self._writers):
            transport = writer.transport
            if transport is not None and not transport.is_closing():
                transport.abort()
        self._writers.clear()

    def heal(self) -> None:
        self.mode = PASS
        self._flowing.set()

    # -- forwarding --------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == REFUSE:
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            await self._flowing.wait()  # a hung proxy accepts, then says nothing
            if writer.transport.is_closing():
                return
            index = next(self._turn)
            host, port = self.targets[index]
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError:
                writer.transport.abort()
                return
            self.per_target[index] += 1
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                                 return_exceptions=True)
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
