"""How `switchboard bench` prints figures: tables, ratios to the reference, JSON lines."""

from __future__ import annotations

import json

import pytest

from bot.cli_bench_common import figures_table, print_figures, print_json, ratio, ratio_text


def test_a_long_json_row_stays_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    row = {"mode": "embedded", "note": "x" * 400, "name": "查询"}
    print_json(row)
    print_json(row, ensure_ascii=False)
    first, second = capsys.readouterr().out.splitlines()
    assert json.loads(first) == json.loads(second) == row
    assert "\\u67e5" in first
    assert "查询" in second


def test_names_are_flush_left_and_figures_flush_right() -> None:
    table = figures_table("t", ("route", "mode", "p50 ms"), left=("route", "mode"))
    assert [c.header for c in table.columns] == ["route", "mode", "p50 ms"]
    assert [c.justify for c in table.columns] == ["left", "left", "right"]


def test_targets_follow_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    table = figures_table("Figures", ("mode", "ms"), left=("mode",))
    table.add_row("embedded", "1.0")
    print_figures(table, "Target: under 2 ms.", "Second note.")
    lines = capsys.readouterr().out.splitlines()
    assert "Figures" in lines[0]
    assert lines[-2:] == ["Target: under 2 ms.", "Second note."]


def test_a_ratio_needs_a_reference() -> None:
    assert ratio(1, 3, 3) == 0.333
    assert ratio(1, 0, 3) is None
    assert ratio_text(1, 3) == "0.33"
    assert ratio_text(1, 3, ".3f") == "0.333"
    assert ratio_text(1, 0) == "-"
