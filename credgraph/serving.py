"""How `credgraph serve` runs uvicorn: one place for the server options every worker shares.

`run(app, host=..., port=..., workers=...)` serves an app (or, with `factory=True`, the import
path of a function that builds one in each worker process) over HTTP/1.1 with httptools' parser
and Nagle's algorithm off on every connection (`NoDelayHttpToolsProtocol`), on uvloop's event
loop where it is installed (not on Windows), after checking that the address can be listened
on (`bind_problem`). httptools and uvloop (what `uvicorn[standard]` adds) took a tenth off the
API worker's CPU a request against uvicorn's pure-Python h11 and asyncio's loop
(docs/benchmarks.md, API).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.logging import DefaultFormatter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from credgraph.api.masking import scrub_lines
from credgraph.cli_common import fail
from credgraph.graph.embedded import EmbeddedStore


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol on httptools, with `TCP_NODELAY` set on each connection it
    accepts.

    With more than one worker, uvicorn binds the listening socket itself without naming TCP as
    its protocol, and asyncio then leaves Nagle's algorithm on for the connections it accepts: a
    response written as its headers and then its body waits for the client's delayed
    acknowledgement, about 40 ms a request (measured: a bare endpoint fell from 1,700 to 360
    requests/s with two workers). One worker was not affected; setting it again is harmless.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


# how long uvicorn's supervisor waits for a worker process to answer its health ping before it
# kills the worker and starts another (uvicorn's own default is 5 s): a worker answers only
# once its interpreter has imported credgraph again, which took 10 s on a busy 2-core machine,
# so with the default two workers were killed at every start, and a hung worker is replaced
# after this long
WORKER_HEALTHCHECK_S = 60


def run(
    app: Any,
    *,
    host: str,
    port: int,
    workers: int = 1,
    factory: bool = False,
    log_level: str = "info",
) -> None:
    """Serve `app` until interrupted (see the module); exit 2 naming the address when it
    cannot be listened on."""
    refuse_unusable_address(host, port)
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=factory,
        http=NoDelayHttpToolsProtocol,
        loop="auto",  # uvloop where it is installed
        log_level=log_level,
        log_config=log_config(),
        # uvicorn's access line holds the path as typed (a resident ID number asked for as a
        # file, say); credgraph's request log says the same with the route's template
        access_log=False,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )


@contextlib.contextmanager
def stop_if_the_store_dies(embedded: EmbeddedStore | None) -> Iterator[threading.Event]:
    """While the block serves, watch the embedded server this process started: if it exits
    unexpectedly (killed, out of memory), set the event and stop serving as Ctrl-C does
    (uvicorn shuts down, then raises the signal again: the KeyboardInterrupt ends here). A
    server left answering 503 for ever, /healthz still "ok", is one no supervisor restarts. A
    store owned by another process is not watched."""
    died = threading.Event()

    def watch(store: EmbeddedStore) -> None:
        if store.wait_for_unexpected_exit() is not None:
            died.set()
            os.kill(os.getpid(), signal.SIGINT)

    if embedded is not None and embedded.owns_process:
        threading.Thread(target=watch, args=(embedded,), daemon=True).start()
    try:
        yield died
    except KeyboardInterrupt:
        if not died.is_set():
            raise


def refuse_unusable_address(host: str, port: int) -> None:
    """Exit 2 naming the address when it cannot be listened on (`bind_problem`)."""
    problem = bind_problem(host, port)
    if problem is not None:
        raise fail("--host/--port (CREDGRAPH_API_HOST, CREDGRAPH_API_PORT)", problem)


def bind_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None when it can, found by binding it as
    uvicorn will (and letting go). Else uvicorn finds out itself, after the app and its store
    started, with a bare `[Errno -2] Name or service not known` or a traceback for a port
    beyond 65535."""
    if not 1 <= port <= 65535:
        return f"port {port} is not between 1 and 65535"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except socket.gaierror:
        return f"cannot listen on {host!r}: it is no address and no host name this machine knows"
    except OSError as exc:
        reasons = {
            errno.EADDRINUSE: "is in use (another credgraph serve, or another server?)",
            errno.EADDRNOTAVAIL: "is not an address of this machine",
            errno.EACCES: "needs privileges (a port below 1024?)",
        }
        return f"{host}:{port} {reasons.get(exc.errno or 0, exc.strerror)}"
    return None


class ScrubbedFormatter(DefaultFormatter):
    """uvicorn's own log lines with each line scrubbed (api/masking.py `scrub`): its "Exception
    in ASGI application" traceback may quote what a caller sent (an identity number in an
    exception's message), and the server log holds no identifiers."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub_lines(super().format(record))


def log_config() -> dict[str, Any]:
    """uvicorn's logging, and credgraph's own JSON lines (the request log, errors, warmings:
    `credgraph.*` loggers at INFO) on standard error as they are, one per line. uvicorn applies
    it in every worker process."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # no colours: scrubbing drops the control characters that would make them
    config["formatters"]["default"].update(
        {"()": f"{__name__}.ScrubbedFormatter", "use_colors": False}
    )
    config["formatters"]["credgraph"] = {"format": "%(message)s"}
    config["handlers"]["credgraph"] = {
        "formatter": "credgraph",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["credgraph"] = {
        "handlers": ["credgraph"],
        "level": "INFO",
        "propagate": False,
    }
    return config
