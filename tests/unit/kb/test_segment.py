"""Index terms: English words and Chinese bigrams, identical for articles and queries."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from store.segment import fts5_query, query_terms, terms, tsquery_literal


def test_english_words_are_folded_stemmed_and_stripped_of_stop_words() -> None:
    assert terms("How do I add the Printers?") == ["add", "printer"]
    assert terms("Passwords reset") == terms("password resets")


def test_chinese_runs_become_overlapping_bigrams() -> None:
    assert terms("门禁卡丢了") == ["门禁", "禁卡", "卡丢", "丢了"]
    assert terms("卡") == ["卡"]


def test_mixed_text_splits_at_the_script_boundary() -> None:
    assert terms("VPN总是断开") == ["vpn", "总是", "是断", "断开"]


def test_full_width_forms_fold_to_ascii() -> None:
    assert terms("ＶＰＮ") == ["vpn"]


def test_query_terms_are_distinct_and_capped() -> None:
    assert query_terms("vpn VPN vpn") == ["vpn"]
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)), limit=5)) == 5


def test_punctuation_alone_gives_no_terms() -> None:
    assert terms("?!… ——, 。") == []


_FTS = sqlite3.connect(":memory:")
_FTS.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 0')")
_FTS.execute("INSERT INTO t (body) VALUES ('vpn 门禁')")


@given(st.text(max_size=80))
def test_any_text_makes_a_query_fts5_accepts_and_terms_without_spaces(text: str) -> None:
    words = query_terms(text)
    assert all(w and not any(c.isspace() for c in w) for w in words)
    if words:
        _FTS.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_query(words),)).fetchall()
    assert tsquery_literal(words).count("'") % 2 == 0
