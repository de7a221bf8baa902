"""The relay's HTTP/1.1 pool to Bedrock (`relay.backends.http1`) against a small loopback server:
connections reused, stale ones replaced, streamed bodies delivered as they come, every transport
failure one of the pool's exceptions, and the Host header sent as botocore signed it."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relay.backends import http1
from relay.backends.http1 import ConnectFailed, HttpSettings, Pool, TimedOut, TransportError
from relay.backends.signed_http import AsyncClients, SignedHttp

SETTINGS = HttpSettings(connect_timeout=2, read_timeout=0.5)
Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    """Answers each request with `reply`; counts connections and records request heads."""

    reply: Reply
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                await self.reply(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def plain(body: bytes = b'{"ok":true}') -> Reply:
    async def reply(writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        writer.write(head.encode() + b"\r\nx-amzn-requestid: r1\r\n\r\n" + body)
        await writer.drain()

    return reply


Serve = Callable[..., Awaitable[Server]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(reply: Reply, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(reply)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        servers.append(listening)
        scheme = "https" if tls else "http"
        server.url = f"{scheme}://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
        return server

    yield start
    for listening in servers:
        listening.close()


async def post(pool: Pool, *, stream: bool = False) -> object:
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    return await pool.send("POST", "/model/m/invoke", headers, b"{}", stream=stream)


async def test_sequential_calls_share_one_connection(serve: Serve) -> None:
    server = await serve(plain())
    pool = Pool(server.url, SETTINGS)

    replies = [await pool.send("POST", "/p", {"Host": "h"}, b"{}") for _ in range(5)]

    assert [r.content for r in replies] == [b'{"ok":true}'] * 5
    assert replies[0].headers["x-amzn-requestid"] == "r1"
    assert server.connections == 1
    pool.close()


async def test_a_connection_the_server_closed_while_idle_is_replaced(serve: Serve) -> None:
    server = await serve(plain())
    pool = Pool(server.url, SETTINGS)
    await post(pool)
    server.writers[0].close()  # the server drops its idle keep-alive connection
    await asyncio.sleep(0.05)

    reply = await pool.send("POST", "/p", {"Host": "h"}, b"{}")

    assert reply.status_code == 200
    assert server.connections == 2
    pool.close()


async def test_a_streamed_body_arrives_as_it_is_sent(serve: Serve) -> None:
    second = asyncio.Event()

    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await second.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    server = await serve(reply)
    pool = Pool(server.url, SETTINGS)
    response = await pool.send("POST", "/p", {"Host": "h"}, b"{}", stream=True)
    chunks = response.chunks()

    assert await anext(chunks) == b"first"  # before the server sent the rest
    second.set()
    assert [chunk async for chunk in chunks] == [b"second"]
    await pool.send("POST", "/p", {"Host": "h"}, b"{}", stream=True)
    assert server.connections == 1  # read to its end, the connection went back to the pool
    pool.close()


async def test_a_stream_closed_before_its_end_does_not_go_back_to_the_pool(serve: Serve) -> None:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()

    server = await serve(reply)
    pool = Pool(server.url, SETTINGS)
    response = await pool.send("POST", "/p", {"Host": "h"}, b"{}", stream=True)
    await anext(response.chunks())
    await response.aclose()

    await pool.send("POST", "/p", {"Host": "h"}, b"{}", stream=True)

    assert server.connections == 2
    pool.close()


async def test_no_answer_within_the_read_timeout_is_timed_out(serve: Serve) -> None:
    async def silent(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await serve(silent)
    pool = Pool(server.url, SETTINGS)

    with pytest.raises(TimedOut):
        await post(pool)


async def test_a_stream_that_stalls_after_its_first_bytes_is_timed_out(serve: Serve) -> None:
    async def stall(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    server = await serve(stall)
    response = await Pool(server.url, SETTINGS).send("POST", "/p", {"Host": "h"}, b"", stream=True)

    with pytest.raises(TimedOut):
        _ = [chunk async for chunk in response.chunks()]


async def test_a_connection_broken_mid_body_is_a_transport_error(serve: Serve) -> None:
    async def broken(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    server = await serve(broken)

    with pytest.raises(TransportError) as raised:
        await post(Pool(server.url, SETTINGS))
    assert not isinstance(raised.value, TimedOut)


async def test_a_refused_connection_is_a_connect_failure(serve: Serve) -> None:
    server = await serve(plain())
    pool = Pool("http://127.0.0.1:1", SETTINGS)  # nothing listens on port 1

    with pytest.raises(ConnectFailed):
        await post(pool)
    assert server.connections == 0


async def test_the_host_header_sent_is_the_one_signed(serve: Serve) -> None:
    server = await serve(plain())
    credentials = Credentials("AKIDEXAMPLE", "secret")
    http = SignedHttp(
        AsyncClients(SETTINGS), lambda: credentials, "bedrock", "us-east-1", server.url, "ua"
    )

    await http.send(http.request("/model/m/invoke", b"{}", {"Content-Type": "application/json"}))

    head = server.heads[0].decode()
    port = server.url.rsplit(":", 1)[1]
    assert f"\r\nHost: 127.0.0.1:{port}\r\n" in head
    assert "SignedHeaders=content-type;host;" in head


def test_a_default_port_is_left_out_of_the_host_as_botocore_signs_it() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret")
    url = "https://bedrock-runtime.us-east-1.amazonaws.com:443"
    http = SignedHttp(AsyncClients(SETTINGS), lambda: credentials, "bedrock", "us-east-1", url, "")

    request = http.request("/model/m/invoke", b"{}", {})

    assert request.headers["Host"] == "bedrock-runtime.us-east-1.amazonaws.com"
    assert request.path == "/model/m/invoke"


def test_an_ipv6_endpoint_is_signed_and_sent_with_its_address_bracketed() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret")
    url = "http://[::1]:8080"
    http = SignedHttp(AsyncClients(SETTINGS), lambda: credentials, "bedrock", "us-east-1", url, "")

    assert http.request("/model/m/invoke", b"{}", {}).headers["Host"] == "[::1]:8080"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


async def test_an_endpoint_whose_certificate_no_known_ca_signed_is_refused(
    serve: Serve, tls_server: tuple[ssl.SSLContext, Path]
) -> None:
    server = await serve(plain(), tls_server[0])

    with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
        await post(Pool(server.url, SETTINGS))


async def test_a_trusted_endpoint_is_called_over_tls(
    serve: Serve, tls_server: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await serve(plain(), tls_server[0])
    trusting = ssl.create_default_context(cafile=tls_server[1])
    monkeypatch.setattr(http1, "_tls", lambda: trusting)

    reply = await Pool(server.url, SETTINGS).send("POST", "/p", {"Host": "127.0.0.1"}, b"{}")

    assert reply.content == b'{"ok":true}'
