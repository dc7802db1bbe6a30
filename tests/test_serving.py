"""How `credgraph serve` runs uvicorn (credgraph/serving.py), on real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import pytest
import typer
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from credgraph.serving import NoDelayHttpToolsProtocol, ScrubbedFormatter, log_config, run


async def _nodelay_of_accepted(protocol: type[HttpToolsProtocol]) -> int:
    """TCP_NODELAY on a connection accepted by a listener bound as uvicorn binds one for
    several workers (no protocol named), served by `protocol`."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        return None

    config = Config(app=app, http=protocol, log_level="warning")
    config.load()
    state, made = ServerState(), asyncio.Event()
    accepted: list[HttpToolsProtocol] = []

    def factory() -> HttpToolsProtocol:
        made.set()
        accepted.append(protocol(config, state, app_state={}))
        return accepted[-1]

    listener = socket.socket(socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = await asyncio.get_running_loop().create_server(factory, sock=listener)
    _, writer = await asyncio.open_connection(*listener.getsockname())
    await asyncio.wait_for(made.wait(), 5)
    for _ in range(500):  # connection_made runs soon after the protocol is built
        if hasattr(accepted[0], "transport"):
            break
        await asyncio.sleep(0.01)
    sock = accepted[0].transport.get_extra_info("socket")
    nodelay = int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    writer.close()
    server.close()
    await server.wait_closed()
    return nodelay


def test_connections_served_by_several_workers_send_without_waiting_for_acks() -> None:
    # uvicorn's own protocol leaves Nagle's algorithm on
    assert asyncio.run(_nodelay_of_accepted(HttpToolsProtocol)) == 0
    assert asyncio.run(_nodelay_of_accepted(NoDelayHttpToolsProtocol)) == 1


def _exit_of_serving(host: str, port: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises((typer.Exit, SystemExit)) as stopped:
        run(app, host=host, port=port)
    code = getattr(stopped.value, "exit_code", None)
    if code is None:
        code = getattr(stopped.value, "code", None)
    return int(code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "port", "said"),
    [
        ("127.0.0.1", None, "127.0.0.1:{port} is in use"),
        ("no-such-host.invalid", 8000, "cannot listen on 'no-such-host.invalid'"),
        ("127.0.0.1", 70000, "port 70000 is not between 1 and 65535"),
    ],
)
def test_serve_names_an_address_it_cannot_listen_on_before_starting(
    capsys: pytest.CaptureFixture[str], host: str, port: int | None, said: str
) -> None:
    with socket.socket() as taken:  # another server on the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        code, err = _exit_of_serving(host, port or busy, capsys)
    assert code == 2
    assert said.format(port=busy) in err and "--host/--port" in err
    assert "Application startup" not in err and "Traceback" not in err


def test_uvicorn_log_lines_hold_no_identity_number() -> None:
    """uvicorn logs "Exception in ASGI application" with the traceback, whose last line may
    quote what a caller sent; the formatter `log_config` gives uvicorn scrubs each line."""
    spec = log_config()["formatters"]["default"]
    assert spec["()"] == "credgraph.serving.ScrubbedFormatter"
    formatter = ScrubbedFormatter(fmt=spec["fmt"], use_colors=spec["use_colors"])
    try:
        raise KeyError("F350581198909237627")
    except KeyError:
        failure = sys.exc_info()
    record = logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None, failure
    )
    said = formatter.format(record)
    assert "Exception in ASGI application" in said and "KeyError" in said
    assert "350581198909237627" not in said and "3505**********7627" in said
