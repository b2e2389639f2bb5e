"""The routes a stranger reaches, published in the OpenAPI document next to the REST API.

Webhooks and the web chat are plain Starlette routes that each channel declares; without
this they would be missing from `/openapi.json`, and from what fuzzers and integrators see.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

_ANY_JSON: dict[str, Any] = {"schema": {}}
_FORM: dict[str, Any] = {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_ERRORS: dict[str, Any] = {
    "400": {"description": "malformed"},
    "401": {"description": "not signed, or signed with another secret"},
    "413": {"description": "body larger than the limit"},
}
_WEBHOOKS: dict[str, dict[str, Any]] = {
    "/slack/events": {
        "post": {
            "summary": "Slack events, slash commands and interactivity",
            "parameters": [
                _header("X-Slack-Request-Timestamp", "seconds since the epoch"),
                _header("X-Slack-Signature", "v0= HMAC-SHA256 of v0:timestamp:body"),
                _header("X-Slack-Retry-Num", "a redelivery"),
            ],
            "requestBody": {
                "content": {
                    "application/json": _ANY_JSON,
                    "application/x-www-form-urlencoded": _FORM,
                }
            },
        }
    },
    "/telegram/webhook": {
        "post": {
            "summary": "Telegram updates",
            "parameters": [_header("X-Telegram-Bot-Api-Secret-Token", "the webhook's secret")],
            "requestBody": {"content": {"application/json": _ANY_JSON}},
        }
    },
    "/twilio/messages": {
        "post": {
            "summary": "Incoming SMS and WhatsApp messages (Twilio)",
            "parameters": [_header("X-Twilio-Signature", "HMAC-SHA1 of the URL and parameters")],
            "requestBody": {"content": {"application/x-www-form-urlencoded": _FORM}},
        }
    },
    "/twilio/status": {
        "post": {
            "summary": "Delivery reports (Twilio)",
            "parameters": [_header("X-Twilio-Signature", "HMAC-SHA1 of the URL and parameters")],
            "requestBody": {"content": {"application/x-www-form-urlencoded": _FORM}},
        }
    },
    "/x/webhook": {
        "get": {
            "summary": "X challenge-response check",
            "parameters": [_query("crc_token", {"type": "string"}, "the challenge")],
        },
        "post": {
            "summary": "X Account Activity events",
            "parameters": [_header("X-Twitter-Webhooks-Signature", "sha256= HMAC of the body")],
            "requestBody": {"content": {"application/json": _ANY_JSON}},
        },
    },
    "/webchat/session": {"post": {"summary": "Start a web chat session"}},
    "/webchat/messages": {
        "post": {
            "summary": "Send a web chat message",
            "parameters": [_header("X-Webchat-Token", "the session's token")],
            "requestBody": {"content": {"application/json": _ANY_JSON}},
        }
    },
    "/webchat/replies": {
        "get": {
            "summary": "Replies after a given id (long poll)",
            "parameters": [
                _header("X-Webchat-Token", "the session's token"),
                _query("after", {"type": "integer"}, "the last reply id seen"),
                _query("wait", {"type": "number"}, "seconds to wait for a reply"),
            ],
        }
    },
}


def document_routes(app: FastAPI) -> None:
    """Publish the webhook and web chat routes in `/openapi.json`, so fuzzers see them too.

    They are plain Starlette routes (each channel declares its own); only those the app
    actually serves are added.
    """
    served = {r.path for r in app.router.routes if isinstance(r, Route)}
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = base()
        paths = schema.setdefault("paths", {})
        for path, operations in _WEBHOOKS.items():
            if path not in served or path in paths:
                continue
            paths[path] = {
                method: {
                    "tags": ["webhooks"],
                    "operationId": f"{method}_{path.strip('/').replace('/', '_')}",
                    "security": [],
                    "responses": {"200": {"description": "accepted"}, **_ERRORS},
                    **operation,
                }
                for method, operation in operations.items()
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
