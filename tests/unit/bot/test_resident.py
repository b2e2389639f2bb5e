"""Releasing the resident pages of clean file mappings, and only of those."""

from __future__ import annotations

import ctypes
import mmap
import sys
from pathlib import Path

import pytest

from bot.resident import mappings, release_file_pages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's smaps")

PAGES = 64
SIZE = PAGES * mmap.PAGESIZE


def _file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * (SIZE // 256))
    return path


def _address(view: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _rss_kb(path: Path) -> int:
    return sum(m.rss_kb for m in mappings() if m.path == str(path))


def _touch(view: mmap.mmap) -> int:
    return sum(view[i] for i in range(0, SIZE, mmap.PAGESIZE))


def test_releases_the_pages_of_a_read_only_file_mapping(tmp_path: Path) -> None:
    path = _file(tmp_path, "read-only")
    with path.open("rb") as f:
        view = mmap.mmap(f.fileno(), SIZE, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    before = _touch(view)
    assert _rss_kb(path) >= SIZE // 1024

    released = release_file_pages(lambda p: p == str(path))

    assert released >= SIZE // 1024
    assert _rss_kb(path) == 0
    # Read again, the pages come back from the file unchanged.
    assert _touch(view) == before
    assert view[:256] == bytes(range(256))
    view.close()


def test_leaves_writable_mappings_alone(tmp_path: Path) -> None:
    path = _file(tmp_path, "writable")
    with path.open("r+b") as f:
        view = mmap.mmap(f.fileno(), SIZE, access=mmap.ACCESS_COPY)
    view[0] = 7  # a private copy of the first page, which the file does not hold
    _touch(view)
    resident = _rss_kb(path)

    assert release_file_pages(lambda p: p == str(path)) == 0

    assert _rss_kb(path) == resident
    assert view[0] == 7
    view.close()


def test_leaves_read_only_mappings_holding_private_pages_alone(tmp_path: Path) -> None:
    # The dynamic loader writes relocations into a library's private pages and then makes
    # them read-only (RELRO): dropping those would bring back the file's unrelocated bytes.
    path = _file(tmp_path, "relro")
    with path.open("r+b") as f:
        view = mmap.mmap(f.fileno(), SIZE, access=mmap.ACCESS_COPY)
    view[0] = 7
    _touch(view)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(_address(view), SIZE, mmap.PROT_READ) == 0
    (mapping,) = [m for m in mappings() if m.path == str(path)]
    assert mapping.perms == "r--p"
    assert mapping.anonymous_kb > 0

    assert release_file_pages(lambda p: p == str(path)) == 0

    assert view[0] == 7
    assert libc.mprotect(_address(view), SIZE, mmap.PROT_READ | mmap.PROT_WRITE) == 0
    view.close()


def test_reads_the_process_own_libraries() -> None:
    found = list(mappings())
    assert any(m.path.endswith(".so") or ".so." in m.path for m in found)
    assert all(m.start < m.end for m in found)


def test_a_missing_smaps_releases_nothing(tmp_path: Path) -> None:
    assert release_file_pages(smaps=tmp_path / "absent") == 0


async def test_a_web_only_process_releases_its_pages_once_started(
    monkeypatch: pytest.MonkeyPatch, model_root: Path, tmp_path: Path
) -> None:
    from asgi_lifespan import LifespanManager

    import bot.resident
    from bot.app import create_app
    from bot.container import Role
    from tests.conftest import make_settings

    calls: list[str] = []
    monkeypatch.setattr(bot.resident, "release_file_pages", lambda: calls.append("released"))
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", model_root)
    app = create_app(settings, roles=frozenset({Role.WEB}))

    assert calls == []
    async with LifespanManager(app):
        assert calls == ["released"]
