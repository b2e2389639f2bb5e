"""`switchboard web` serves from the process it was started as, without its command line.

After its checks the command replaces its process (`os.execv`) with `bot.serve_web`: a
process manager keeps the process id it started, and its signals reach uvicorn.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from bot.config import Settings
from tests.integration.procs import environment, free_port, processes, start, wait_healthy


def test_web_becomes_the_server_in_the_same_process(
    demo_settings: Settings, tmp_path: Path
) -> None:
    env = environment(demo_settings)
    port = free_port()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        wait_healthy(port, web)
        argv = Path(f"/proc/{web.popen.pid}/cmdline").read_bytes().split(b"\0")
        assert argv[-5:] == [b"bot.serve_web", b"127.0.0.1", str(port).encode(), b"1", b""]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        # uvicorn shuts down on the process manager's signal, then ends by it.
        web.popen.send_signal(signal.SIGTERM)
        assert web.popen.wait(timeout=20) == -signal.SIGTERM
