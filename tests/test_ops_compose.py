"""docker-compose.yml as Docker runs it: the API's command, through a real `sh`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_the_api_container_s_first_process_becomes_credgraph_and_gets_its_sigterm(
    tmp_path: Path,
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    command = compose["services"]["api"]["command"].strip()
    assert command.startswith("sh -c ")
    bin_dir = tmp_path / "bin"  # `pip` and `credgraph` as the image has them, minus the work
    bin_dir.mkdir()
    (bin_dir / "pip").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (bin_dir / "credgraph").write_text(
        f"#!{sys.executable}\nimport time\ntime.sleep(60)\n", encoding="utf-8"
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    first = subprocess.Popen(["sh", "-c", command.removeprefix("sh -c ").strip('"')], env=env)
    try:
        cmdline: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cmdline = Path(f"/proc/{first.pid}/cmdline").read_bytes().decode().split("\0")
            if any(part.endswith("/credgraph") for part in cmdline):
                break
            time.sleep(0.05)
        # the process Docker signals is credgraph itself, not a shell that would swallow it
        assert cmdline[1] == str(bin_dir / "credgraph"), cmdline
    finally:
        first.terminate()
        first.wait(timeout=30)
