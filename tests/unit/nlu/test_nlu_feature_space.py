"""The feature vocabulary, held as 64-bit keys, finds exactly the features it was given."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from nlu import features
from nlu.features import FeatureSpace, context_features, feature_keys, token_features

NAMES = sorted(
    {
        *token_features("printer"),
        *token_features("打"),
        *context_features(["printer", "broken", "打", "印", "机"]),
        "w 邮箱",
    }
)


def _space() -> FeatureSpace:
    return FeatureSpace(NAMES, np.linspace(1.0, 2.0, len(NAMES), dtype=np.float32))


def test_keys_are_stable_across_processes() -> None:
    # Fixed values (MurmurHash of the UTF-8 bytes): Python's hash() changes with every process.
    assert feature_keys(["w printer", "c <pr"]).tolist() == [
        10961014550597010974,
        17330940709057847949,
    ]
    assert feature_keys([]).dtype == np.uint64


def test_every_feature_maps_to_its_place_and_unknown_ones_drop() -> None:
    space = _space()
    wanted = [NAMES[3], "w nothing-like-it", NAMES[0], NAMES[3], NAMES[-1]]
    assert space.lookup(wanted).tolist() == [3, 0, 3, len(NAMES) - 1]
    assert space.lookup(["b never seen"]).tolist() == []


def test_message_ids_are_those_of_a_string_index() -> None:
    space = _space()
    index = {name: i for i, name in enumerate(NAMES)}
    tokens = ["printer", "broken", "打", "印", "机"]
    expected = [
        index[f]
        for f in [*(f for t in tokens for f in token_features(t)), *context_features(tokens)]
        if f in index
    ]
    assert space.feature_ids(tokens).tolist() == expected
    # Again, now from the per-token cache.
    assert space.feature_ids(tokens).tolist() == expected


def test_names_and_size_survive() -> None:
    space = _space()
    assert space.names == NAMES
    assert len(space) == len(NAMES)
    assert space.is_char.tolist() == [int(n.startswith("c ")) for n in NAMES]
    assert FeatureSpace([], np.zeros(0, np.float32)).names == []


def test_a_vocabulary_whose_keys_collide_is_looked_up_by_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def colliding(names: list[str]) -> NDArray[np.uint64]:
        return np.array([len(n) % 3 for n in names], dtype=np.uint64)

    monkeypatch.setattr(features, "feature_keys", colliding)
    space = _space()
    assert space.lookup([NAMES[5], NAMES[1], "w unknown"]).tolist() == [5, 1]
