"""What `switchboard web` becomes once its checks pass: uvicorn serving `bot.asgi:app`.

The command replaces its process with this module (`os.execv`: the same process id, so a
process manager's signals still reach uvicorn), so the command line's parser, the schema
check's container and connections, and the heap they grew are not carried into the server.
Not a command for people (`switchboard web` is): it takes host, port and worker count as its
three arguments, and imports nothing of the command line.
"""

from __future__ import annotations

import os
import sys


def argv(host: str, port: int, workers: int) -> list[str]:
    """The command line that runs this module with the interpreter flags of this process."""
    import subprocess

    # The flags multiprocessing gives its children too (-X, -W, -O, ...): a server started
    # with `python -X dev -m bot web` keeps them.
    flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    return [sys.executable, *flags, "-m", __name__, host, str(port), str(workers)]


def serve(host: str, port: int, workers: int) -> None:
    """Serve the web role with uvicorn until it is stopped."""
    import uvicorn

    from bot.config import load_settings
    from bot.logging import configure

    # uvicorn logs through our configuration (`log_config=None`), and with several workers
    # its parent never loads the app, which configures logging in each worker.
    settings = load_settings()
    configure(settings.log_level, settings.log_format)
    uvicorn.run(
        "bot.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    host, port, workers = sys.argv[1:4]
    serve(host, int(port), int(workers))
