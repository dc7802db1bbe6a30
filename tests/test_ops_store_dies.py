"""`credgraph serve` whose embedded store dies under it: it stops, exit 3, rather than answer
503 for ever with /healthz still "ok" (no supervisor would restart it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, process_env


def _ready(client: httpx.Client, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if client.get("/readyz").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_stops_with_status_3_when_its_embedded_store_dies(
    tmp_path: Path, workers: str
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "credgraph", "serve", "--workers", workers],
        env=process_env(tmp_path / "data", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            if not _ready(client, server):
                stopped = server.poll() is not None
                said = server.stderr.read().decode() if stopped and server.stderr else ""
                raise AssertionError(f"the server did not become ready: {said}")
        state = json.loads((tmp_path / "data" / "store.json").read_text(encoding="utf-8"))
        os.kill(int(state["pid"]), signal.SIGKILL)  # the store dies: out of memory, say
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 3, err.decode()
    assert "the embedded store exited under the server" in err.decode()
