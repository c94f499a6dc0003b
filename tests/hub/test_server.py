"""The shared hub helper starts a real hub both ways and hands out working keys."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.hub_server import start_hub_process, start_hub_thread


def _roundtrip(base_url: str, publish: str, read: str) -> list[str]:
    import httpx

    answer = httpx.post(
        f"{base_url}/v1/events",
        json={"events": [{"title": "helper works", "level": "info"}]},
        headers={"Authorization": f"Bearer {publish}"},
    )
    assert answer.status_code == 202, answer.text
    feed = httpx.get(f"{base_url}/v1/events", headers={"Authorization": f"Bearer {read}"}).json()
    return [e["title"] for e in feed["events"]]


def test_thread_hub_serves_and_stops(tmp_path: Path) -> None:
    running = start_hub_thread(tmp_path / "data")
    try:
        assert running.base_url.startswith("http://127.0.0.1:")
        assert running.dsn == running.base_url.replace("http://", f"http://{running.publish_key}@")
        assert _roundtrip(running.base_url, running.publish_key, running.read_key) == ["helper works"]
    finally:
        running.stop()
    assert not running.thread.is_alive()


def test_process_hub_serves_and_terminates_cleanly(tmp_path: Path) -> None:
    running = start_hub_process(tmp_path / "data")
    try:
        assert _roundtrip(running.base_url, running.publish_key, running.read_key) == ["helper works"]
    finally:
        code = running.terminate()
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status is "killed by SIGTERM".
    assert code in (0, -signal.SIGTERM), "\n".join(running.output)
    assert any("Application shutdown complete" in line for line in running.output)


async def test_accepted_connections_have_tcp_nodelay() -> None:
    """Responses go out without waiting for the client's delayed ACK (Nagle) on keep-alive connections:
    asyncio only sets TCP_NODELAY when the listening socket says IPPROTO_TCP."""
    import asyncio
    import socket

    from pushlog.hub._server import bind

    sock = bind("127.0.0.1", 0)
    nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nodelay.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        assert await asyncio.wait_for(nodelay, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
