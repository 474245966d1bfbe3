"""A TCP relay on 127.0.0.1 between a station and the test server, that a test can cut.

A dropped network without root's network tricks: the station connects to the relay, the relay
to the server, and the test cuts every connection (``cut``), refuses new ones for a while
(``refuse``/``accept``), or cuts a connection the moment the station sends some bytes
(``cut_when``), after passing them on and swallowing the server's answer: the server then did
the work and the station never hears of it (a COMMIT whose outcome it cannot know).
"""

from __future__ import annotations

import asyncio
import threading


class Relay:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.refusing = False
        self.accepted = 0
        self._trigger: bytes | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._handle, host, 0))
        self.port = self._server.sockets[0].getsockname()[1]

    def uri(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"

    def _call(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if self.refusing:
            writer.transport.abort()
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        muted = asyncio.Event()

        async def station_to_server():
            while data := await reader.read(65536):
                trigger = self._trigger
                if trigger is not None and trigger in data:
                    self._trigger = None
                    muted.set()  # the server's answer never reaches the station
                up_writer.write(data)
                await up_writer.drain()
                if muted.is_set():
                    await asyncio.sleep(0.3)  # long enough for the server to do the work
                    self._abort(pair)
                    return

        async def server_to_station():
            while data := await up_reader.read(65536):
                if muted.is_set():
                    continue
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(station_to_server(), server_to_station())
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._abort(pair)

    def _abort(self, pair) -> None:
        self._pairs.discard(pair)
        for side in pair:
            side.transport.abort()

    async def _cut_all(self) -> int:
        pairs = list(self._pairs)
        for pair in pairs:
            self._abort(pair)
        await asyncio.sleep(0.05)
        return len(pairs)

    def cut(self) -> int:
        """Drops every connection through the relay now (as a pulled cable or a restarted
        router would); returns how many there were."""
        return self._call(self._cut_all())

    def cut_when(self, data: bytes) -> None:
        """The next time a station sends bytes containing ``data``: pass them on, swallow
        the answer, and drop that connection."""
        self._trigger = data

    def refuse(self) -> None:
        """New connections are dropped at once (the server unreachable) until ``accept``."""
        self.refusing = True

    def accept(self) -> None:
        self.refusing = False

    async def _shut(self) -> None:
        self._server.close()
        await self._cut_all()
        await self._server.wait_closed()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        self._call(self._shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
