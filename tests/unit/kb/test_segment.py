"""Index terms: English words and Chinese bigrams, identical for articles and queries."""

from __future__ import annotations

from store.segment import query_terms, terms


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
