"""The ingest benchmark's Slack load is what Slack would send: signed, distinct, parseable."""

from __future__ import annotations

import json
import time

import pytest

from benchmarks.ingest import SLACK_SECRET, slack_request
from channels.base import SignatureError
from channels.slack.verify import verify


def test_each_request_is_signed_as_slack_signs() -> None:
    build = slack_request("http://127.0.0.1:1")
    url, body, sent = build(7)
    headers = {k.lower(): v for k, v in sent.items()}  # as the server reads them
    assert url == "http://127.0.0.1:1/slack/events"
    verify(body, headers, secret=SLACK_SECRET, now=time.time())
    with pytest.raises(SignatureError):
        verify(body, headers, secret="another-secret", now=time.time())


def test_requests_are_distinct_events() -> None:
    build = slack_request("http://127.0.0.1:1")
    ids = {json.loads(build(i)[1])["event_id"] for i in range(50)}
    stamps = {json.loads(build(i)[1])["event"]["ts"] for i in range(50)}
    assert len(ids) == 50
    assert len(stamps) == 50
