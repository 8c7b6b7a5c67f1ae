"""The sandbox's HTTP protocol sends each answer's head and body in one write."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx

from appwright.sandbox.http_protocol import JOIN_AT_MOST, _JoinedWrites


class _Recorded:
    """A transport that records what reaches the socket."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


async def test_writes_of_one_loop_step_go_out_as_one() -> None:
    recorded = _Recorded()
    joined = _JoinedWrites(recorded)
    joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
    joined.write(b"[]")
    assert recorded.writes == [] and joined.get_write_buffer_size() == 21
    await asyncio.sleep(0)
    assert recorded.writes == [b"HTTP/1.1 200 OK\r\n\r\n[]"]
    joined.write(b"next")
    await asyncio.sleep(0)
    assert recorded.writes[1:] == [b"next"]


async def test_a_large_write_goes_out_at_once_after_what_waits() -> None:
    recorded = _Recorded()
    joined = _JoinedWrites(recorded)
    body = b"x" * (JOIN_AT_MOST + 1)
    joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
    joined.write(body)
    assert recorded.writes == [b"HTTP/1.1 200 OK\r\n\r\n", body]
    assert recorded.writes[1] is body  # not copied
    await asyncio.sleep(0)
    assert len(recorded.writes) == 2


async def test_close_sends_what_was_written_first() -> None:
    recorded = _Recorded()
    joined = _JoinedWrites(recorded)
    joined.write(b"last words")
    joined.close()
    assert recorded.writes == [b"last words"] and recorded.closed
    await asyncio.sleep(0)
    assert recorded.writes == [b"last words"]


async def test_nothing_is_written_to_a_closing_transport() -> None:
    recorded = _Recorded()
    joined = _JoinedWrites(recorded)
    joined.write(b"too late")
    recorded.closed = True  # the peer went away
    await asyncio.sleep(0)
    assert recorded.writes == []


async def test_everything_else_is_the_transports_own() -> None:
    assert _JoinedWrites(_Recorded()).get_extra_info("peername") == "extra peername"


def test_answers_arrive_whole_on_a_kept_alive_connection(api: str) -> None:
    host, port = api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        for _ in range(3):  # keep-alive: one answer after another on one connection
            sock.sendall(b"POST /v1/projects/quote HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            head, body = _read_answer(sock)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert "prototype" in json.loads(body)["tiers"]


def test_connection_close_still_answers(api: str) -> None:
    assert httpx.post(f"{api}/v1/projects/quote", headers={"Connection": "close"}).status_code == 200


def _read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_a_request_that_cannot_be_parsed_gets_a_json_400_and_the_connection_closes(api: str) -> None:
    host, port = api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /v1/projects/quote HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n{}")
        head, body = _read_answer(sock)
        assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"content-type: application/json" in head.lower()
        error = json.loads(body)
        assert error["error"] == "malformed_request" and "Content-Length" in error["hint"]
        sock.settimeout(5)
        assert sock.recv(1) == b""  # closed by the server: nothing after it is read as a request
