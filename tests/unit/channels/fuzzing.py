"""What the parser fuzz tests share: JSON values, one-field changes, the inbox round trip."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from channels.conversation import Event, event_from_dict


def json_values(scalars: st.SearchStrategy[Any], *, max_leaves: int) -> st.SearchStrategy[Any]:
    """Any JSON document built from `scalars`: small lists and objects, nested."""
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def mutate(doc: Any, path: list[str], value: Any) -> Any:
    """Replace one field somewhere inside `doc`, walking `path` (first item of each list)."""
    doc = copy.deepcopy(doc)
    node, keys = doc, list(path)
    while keys:
        if isinstance(node, list) and node:
            node = node[0]
            continue
        if not isinstance(node, dict) or not node:
            break
        key = keys.pop(0)
        name = key if key in node else sorted(node)[0]
        if keys and isinstance(node[name], dict | list):
            node = node[name]
            continue
        node[name] = value
        break
    return doc


def assert_survives_the_inbox(event: Event) -> None:
    """The event comes back equal from the JSON the inbox stores."""
    assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event
