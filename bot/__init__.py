"""The Switchboard application: configuration, composition, web and worker roles, CLI."""

import sys


def _import_structlog_without_rich() -> None:
    """Import structlog with rich hidden from it, before any of our modules imports it.

    structlog's `dev` and `tracebacks` modules import rich (and with it pygments and attrs,
    about 3.5 MB in every process) whenever it is installed, only to offer rich tracebacks.
    Our chain renders exceptions with `format_exc_info` before any renderer sees them, so
    nothing of rich would be used. rich stays importable afterwards for the command line.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # makes `import rich` fail
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
