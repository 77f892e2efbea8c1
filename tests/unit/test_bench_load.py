"""The bench's HTTP client: keep-alive POSTs, one connection reused while it is free."""

from __future__ import annotations

import asyncio
import json

from jiban.bench.load import Connections


async def test_posts_reuse_a_free_connection_and_read_the_whole_answer() -> None:
    accepted: list[int] = []
    bodies: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            bodies.append(await reader.readexactly(length))
            answer = json.dumps({"appeal_id": f"a{len(bodies)}"}).encode()
            writer.write(
                b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
            )
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = Connections(f"http://127.0.0.1:{port}/v1/appeals")
    try:
        first = await http.post(b'{"n": 1}')
        second = await http.post(b'{"n": 22}')
        together = await asyncio.gather(http.post(b"{}"), http.post(b"{}"))
    finally:
        await http.close()
        server.close()
        await server.wait_closed()
    assert first == (202, b'{"appeal_id": "a1"}')
    assert second == (202, b'{"appeal_id": "a2"}')
    assert sorted(status for status, _ in together) == [202, 202]
    assert bodies[:2] == [b'{"n": 1}', b'{"n": 22}']
    # One connection for the two posts in turn, a second only when both were busy at once.
    assert len(accepted) == 2


async def test_a_connection_the_server_closed_is_replaced_not_counted_as_a_failure() -> None:
    accepted: list[int] = []

    async def serve_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answers one request, then closes (as a server does with a connection kept too long).
        accepted.append(1)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]))
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = Connections(f"http://127.0.0.1:{port}/")
    try:
        answers = [await http.post(b"{}") for _ in range(3)]
    finally:
        await http.close()
        server.close()
        await server.wait_closed()
    assert answers == [(202, b"{}")] * 3
    assert len(accepted) == 3
