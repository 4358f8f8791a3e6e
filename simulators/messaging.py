"""A local stand-in for the Messaging service (SPEC 13 outbound): lists, templates and batch sends over
real HTTP, standard library only.

    python -m simulators.messaging --port 8025 [--api-key KEY]

State lives in memory and is lost on restart. What a test or a developer can ask of it, besides the
Messaging API under /v1/ (see docs/messaging.md):

    GET  /_sim/requests   every /v1/ request received, in order, with its outcome
    GET  /_sim/state      lists (members, and how many times each was really added), sends
    POST /_sim/reset      forget everything (templates come back)
    POST /_sim/block      {"addresses": [...]}: reject sends to these addresses (a known-bad address)
    POST /_sim/fail       {"mode": "500"|"429"|"timeout"|"timeout_after_apply", "times": N, "after": K,
                           "retry_after": S, "delay": S, "method": "POST", "path_prefix": "/v1/lists",
                           "path_regex": "/members$"}
    DELETE /_sim/fail     stop failing

Idempotency follows the usual contract: a mutating request carries an Idempotency-Key; the same key
with the same body replays the stored response without a second effect, the same key with a
different body answers 422.
"""

import argparse
import hashlib
import itertools
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from simulators._server import JsonHandler, LocalServer

CHANNELS = ("email", "sms", "push", "whatsapp")
MAX_RECIPIENTS = 1000
MAX_CONTACTS_PER_CALL = 5000
# "timeout" modes sleep this long unless told otherwise: longer than a test client's timeout,
# short enough that a test waiting on a server thread stays quick.
DEFAULT_DELAY_SECONDS = 1.5

SEED_TEMPLATES = (
    {
        "id": "tpl_welcome",
        "name": "Welcome to the club",
        "channel": "email",
        "subject": "Welcome, {{first_name}}",
        "variables": ["first_name"],
    },
    {
        "id": "tpl_event_promotion",
        "name": "Event promotion",
        "channel": "email",
        "subject": "{{event_name}}: entries are open",
        "variables": ["first_name", "event_name", "event_date"],
    },
    {
        "id": "tpl_renewal_reminder",
        "name": "Renewal reminder",
        "channel": "email",
        "subject": "Your membership renews on {{renewal_date}}",
        "variables": ["first_name", "renewal_date"],
    },
    {
        "id": "tpl_tee_time_sms",
        "name": "Tee time reminder",
        "channel": "sms",
        "subject": "",
        "variables": ["first_name", "tee_time"],
    },
)


@dataclass
class FailureRule:
    """Fail `times` matching requests once `after` matching requests have gone through."""

    mode: str
    times: int = 1
    after: int = 0
    retry_after: float = 1
    delay: float = DEFAULT_DELAY_SECONDS
    method: str = ""
    path_prefix: str = "/v1/"
    path_regex: str = ""
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if not path.startswith(self.path_prefix):
            return False
        return not self.path_regex or re.search(self.path_regex, path) is not None

    def take(self) -> bool:
        """Count one matching request; True when this one should fail."""
        self.seen += 1
        return self.after < self.seen <= self.after + self.times


@dataclass
class SimulatorState:
    api_key: str = ""
    lists: dict = field(default_factory=dict)  # id → {"id", "name", "external_id", "members": {ext: contact}}
    add_counts: dict = field(default_factory=dict)  # list id → {external_id: times really added}
    messages: list = field(default_factory=list)
    recipient_keys: dict = field(default_factory=dict)  # per-recipient idempotency key → message id
    templates: dict = field(default_factory=dict)
    idempotent: dict = field(default_factory=dict)  # Idempotency-Key → (body digest, status, response)
    requests: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    blocked_addresses: set = field(default_factory=set)  # sends to these are rejected per recipient
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    # One lock around every read-check-write of the state: two requests with the same key can't
    # both miss the idempotency store and both apply.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.templates = {template["id"]: dict(template) for template in SEED_TEMPLATES}

    def reset(self):
        with self.lock:
            api_key = self.api_key
            fresh = SimulatorState(api_key=api_key)
            for name in (
                "lists",
                "add_counts",
                "messages",
                "recipient_keys",
                "templates",
                "idempotent",
                "requests",
                "failures",
                "blocked_addresses",
                "ids",
            ):
                setattr(self, name, getattr(fresh, name))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):06d}"


class MessagingSimulatorHandler(JsonHandler):
    server_version = "MessagingSimulator/1"

    @property
    def state(self) -> SimulatorState:
        return self.server.state

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # --- plumbing -----------------------------------------------------------------------

    def _dispatch(self, method: str):
        url = urlsplit(self.path)
        try:
            body = self.read_json() or {}
        except ValueError:
            return self._send(400, {"error": {"code": "invalid_json", "message": "The body is not JSON."}})
        if url.path.startswith("/_sim/"):
            return self._control(method, url.path, body)
        record = {
            "method": method,
            "path": url.path,
            "query": url.query,
            "idempotency_key": self.headers.get("Idempotency-Key", ""),
            "authorization": _masked(self.headers.get("Authorization", "")),
            "body": body,
        }
        with self.state.lock:
            self.state.requests.append(record)
            failure = next(
                (rule for rule in self.state.failures if rule.matches(method, url.path) and rule.take()), None
            )
        if self.state.api_key and self.headers.get("Authorization") != f"Bearer {self.state.api_key}":
            record["outcome"] = "unauthorised"
            return self._send(401, {"error": {"code": "unauthorised", "message": "Missing or wrong API key."}})
        if failure is not None and failure.mode != "timeout_after_apply":
            record["outcome"] = f"injected {failure.mode}"
            return self._fail(failure)
        status, response = self._apply(method, url, body, record)
        if failure is not None:  # timeout_after_apply: the effect happened, the answer comes too late
            record["outcome"] += ", answered late"
            time.sleep(failure.delay)
        self._send(status, response)

    def _apply(self, method, url, body, record) -> tuple[int, dict]:
        route = _route(method, url.path)
        if route is None:
            record["outcome"] = "not found"
            return 404, {"error": {"code": "not_found", "message": f"No route for {method} {url.path}."}}
        handler, arguments = route
        if method == "GET":
            with self.state.lock:
                status, response = handler(self.state, *arguments, body=body, query=parse_qs(url.query))
            record["outcome"] = "read"
            return status, response
        key = self.headers.get("Idempotency-Key", "")
        if not key:
            record["outcome"] = "rejected: no idempotency key"
            return 400, {"error": {"code": "idempotency_key_required", "message": "Send an Idempotency-Key."}}
        digest = hashlib.sha256(json.dumps([method, url.path, body], sort_keys=True).encode()).hexdigest()
        with self.state.lock:
            stored = self.state.idempotent.get(key)
            if stored is not None:
                if stored[0] != digest:
                    record["outcome"] = "rejected: key reused with another body"
                    return 422, {
                        "error": {
                            "code": "idempotency_key_reused",
                            "message": "This Idempotency-Key was used with a different request.",
                        }
                    }
                record["outcome"] = "replayed"
                return stored[1], stored[2]
            status, response = handler(self.state, *arguments, body=body, query={})
            if status < 500:
                self.state.idempotent[key] = (digest, status, response)
        record["outcome"] = "applied" if status < 400 else f"rejected {status}"
        return status, response

    def _fail(self, failure: FailureRule):
        if failure.mode == "429":
            return self._send(
                429,
                {"error": {"code": "rate_limited", "message": "Slow down."}},
                headers={"Retry-After": str(failure.retry_after)},
            )
        if failure.mode == "timeout":
            time.sleep(failure.delay)
            return self._send(503, {"error": {"code": "too_slow", "message": "Answered after the timeout."}})
        return self._send(500, {"error": {"code": "internal", "message": "Injected failure."}})

    def _control(self, method: str, path: str, body: dict):
        state = self.state
        if (method, path) == ("GET", "/_sim/requests"):
            with state.lock:
                return self._send(200, {"requests": list(state.requests)})
        if (method, path) == ("GET", "/_sim/state"):
            with state.lock:
                return self._send(200, _state_snapshot(state))
        if (method, path) == ("POST", "/_sim/reset"):
            state.reset()
            return self._send(200, {"reset": True})
        if (method, path) == ("POST", "/_sim/fail"):
            allowed = {"mode", "times", "after", "retry_after", "delay", "method", "path_prefix", "path_regex"}
            if body.get("mode") not in {"500", "429", "timeout", "timeout_after_apply"} or set(body) - allowed:
                return self._send(400, {"error": {"code": "invalid_failure", "message": f"Allowed keys: {allowed}."}})
            with state.lock:
                state.failures.append(FailureRule(**body))
            return self._send(201, {"failing": len(state.failures)})
        if (method, path) == ("POST", "/_sim/block"):
            addresses = body.get("addresses")
            if not isinstance(addresses, list) or set(body) != {"addresses"}:
                return self._send(400, {"error": {"code": "invalid_block", "message": "Send {'addresses': [...]}."}})
            with state.lock:
                state.blocked_addresses.update(str(address) for address in addresses)
            return self._send(201, {"blocked": len(state.blocked_addresses)})
        if (method, path) == ("DELETE", "/_sim/fail"):
            with state.lock:
                state.failures.clear()
            return self._send(200, {"failing": 0})
        return self._send(404, {"error": {"code": "not_found", "message": "Unknown control endpoint."}})

    def _send(self, status: int, payload: dict, headers: dict | None = None):
        self.send_json(status, payload, headers)


def _masked(authorization: str) -> str:
    return f"{authorization[:7]}…{authorization[-4:]}" if len(authorization) > 12 else authorization


# --- the Messaging API ----------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"error": {"code": code, "message": message}}


def _list_view(messaging_list: dict) -> dict:
    return {
        "id": messaging_list["id"],
        "name": messaging_list["name"],
        "external_id": messaging_list["external_id"],
        "member_count": len(messaging_list["members"]),
    }


def list_create(state, *, body, query):
    if not str(body.get("name", "")).strip():
        return _error(400, "invalid", "A list needs a name.")
    list_id = state.next_id("lst")
    state.lists[list_id] = {
        "id": list_id,
        "name": body["name"],
        "external_id": body.get("external_id", ""),
        "members": {},
    }
    state.add_counts[list_id] = {}
    return 201, _list_view(state.lists[list_id])


def list_get(state, list_id, *, body, query):
    if list_id not in state.lists:
        return _error(404, "list_not_found", f"No list {list_id}.")
    return 200, _list_view(state.lists[list_id])


def list_members_add(state, list_id, *, body, query):
    if list_id not in state.lists:
        return _error(404, "list_not_found", f"No list {list_id}.")
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not contacts or len(contacts) > MAX_CONTACTS_PER_CALL:
        return _error(400, "invalid", f"Send 1 to {MAX_CONTACTS_PER_CALL} contacts.")
    if any(not isinstance(contact, dict) or not contact.get("external_id") for contact in contacts):
        return _error(400, "invalid", "Every contact needs an external_id.")
    members, counts = state.lists[list_id]["members"], state.add_counts[list_id]
    added = already = 0
    for contact in contacts:
        external_id = str(contact["external_id"])
        if external_id in members:
            already += 1
        else:
            added += 1
            counts[external_id] = counts.get(external_id, 0) + 1
        members[external_id] = contact  # upsert: the latest details win
    return 200, {"added": added, "already_present": already, "member_count": len(members)}


def list_members_remove(state, list_id, *, body, query):
    if list_id not in state.lists:
        return _error(404, "list_not_found", f"No list {list_id}.")
    external_ids = body.get("external_ids")
    if not isinstance(external_ids, list) or not external_ids or len(external_ids) > MAX_CONTACTS_PER_CALL:
        return _error(400, "invalid", f"Send 1 to {MAX_CONTACTS_PER_CALL} external_ids.")
    members = state.lists[list_id]["members"]
    removed = sum(members.pop(str(external_id), None) is not None for external_id in external_ids)
    return 200, {"removed": removed, "not_present": len(external_ids) - removed, "member_count": len(members)}


def list_members_page(state, list_id, *, body, query):
    if list_id not in state.lists:
        return _error(404, "list_not_found", f"No list {list_id}.")
    limit = min(int((query.get("limit") or ["100"])[0]), 1000)
    cursor = (query.get("cursor") or [""])[0]
    ordered = sorted(state.lists[list_id]["members"].values(), key=lambda contact: str(contact["external_id"]))
    page = [contact for contact in ordered if str(contact["external_id"]) > cursor][:limit]
    more = len(page) == limit and str(ordered[-1]["external_id"]) > str(page[-1]["external_id"])
    return 200, {"members": page, "next_cursor": str(page[-1]["external_id"]) if more else None}


def template_list(state, *, body, query):
    return 200, {"templates": list(state.templates.values())}


def template_get(state, template_id, *, body, query):
    if template_id not in state.templates:
        return _error(404, "template_not_found", f"No template {template_id}.")
    return 200, state.templates[template_id]


def messages_send_batch(state, *, body, query):
    channel, recipients = body.get("channel"), body.get("recipients")
    if channel not in CHANNELS:
        return _error(400, "invalid", f"channel is one of {', '.join(CHANNELS)}.")
    template_id = body.get("template_id")
    if template_id and template_id not in state.templates:
        return _error(422, "template_not_found", f"No template {template_id}.")
    if not template_id and not body.get("body"):
        return _error(400, "invalid", "Send a template_id, or a body (and a subject for email).")
    if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_RECIPIENTS:
        return _error(400, "invalid", f"Send 1 to {MAX_RECIPIENTS} recipients.")
    results = []
    for recipient in recipients:
        key, external_id = recipient.get("idempotency_key"), recipient.get("external_id")
        address = recipient.get("email") if channel == "email" else recipient.get("phone")
        if not key or not external_id:
            results.append(
                {
                    "external_id": external_id,
                    "status": "rejected",
                    "reason": "idempotency_key and external_id are required",
                }
            )
        elif key in state.recipient_keys:
            # A recipient already sent under this key is never sent twice, even in another batch,
            # and is answered for as sent whatever its address is now (removed, blocked since).
            results.append(
                {
                    "external_id": external_id,
                    "idempotency_key": key,
                    "status": "duplicate",
                    "message_id": state.recipient_keys[key],
                }
            )
        elif channel != "push" and not address:
            results.append(
                {
                    "external_id": external_id,
                    "idempotency_key": key,
                    "status": "rejected",
                    "reason": f"no address for {channel}",
                }
            )
        elif address in state.blocked_addresses:
            results.append(
                {
                    "external_id": external_id,
                    "idempotency_key": key,
                    "status": "rejected",
                    "reason": f"{address} is blocked",
                }
            )
        else:
            message_id = state.next_id("msg")
            state.recipient_keys[key] = message_id
            state.messages.append(
                {
                    "id": message_id,
                    "channel": channel,
                    "template_id": template_id,
                    "subject": body.get("subject", ""),
                    "external_id": external_id,
                    "address": address,
                    "variables": {**body.get("variables", {}), **recipient.get("variables", {})},
                    "idempotency_key": key,
                }
            )
            results.append(
                {"external_id": external_id, "idempotency_key": key, "status": "accepted", "message_id": message_id}
            )
    return 202, {"messages": results}


ROUTES = (
    ("POST", re.compile(r"^/v1/lists$"), list_create),
    ("GET", re.compile(r"^/v1/lists/([\w-]+)$"), list_get),
    ("POST", re.compile(r"^/v1/lists/([\w-]+)/members$"), list_members_add),
    ("POST", re.compile(r"^/v1/lists/([\w-]+)/members/remove$"), list_members_remove),
    ("GET", re.compile(r"^/v1/lists/([\w-]+)/members$"), list_members_page),
    ("GET", re.compile(r"^/v1/templates$"), template_list),
    ("GET", re.compile(r"^/v1/templates/([\w-]+)$"), template_get),
    ("POST", re.compile(r"^/v1/messages/batch$"), messages_send_batch),
)


def _route(method: str, path: str):
    for route_method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if route_method == method and match:
            return handler, match.groups()
    return None


def _state_snapshot(state: SimulatorState) -> dict:
    return {
        "lists": {
            list_id: {
                **_list_view(messaging_list),
                "members": sorted(messaging_list["members"]),
                "add_counts": dict(state.add_counts[list_id]),
            }
            for list_id, messaging_list in state.lists.items()
        },
        "messages": list(state.messages),
        "templates": list(state.templates.values()),
    }


# --- running it -----------------------------------------------------------------------------


class MessagingSimulator(LocalServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 8025, *, api_key: str = "", verbose: bool = False):
        self.state = SimulatorState(api_key=api_key)
        super().__init__((host, port), MessagingSimulatorHandler, verbose=verbose)


def start_messaging_simulator(*, api_key: str = "") -> MessagingSimulator:
    """A simulator on a free port, serving from a background thread (tests); `.stop()` ends it."""
    return MessagingSimulator(port=0, api_key=api_key).start_in_thread()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local Messaging service simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("MESSAGING_API_KEY", ""),
        help="Require 'Authorization: Bearer KEY' (default: $MESSAGING_API_KEY; empty accepts any).",
    )
    parser.add_argument("--quiet", action="store_true", help="Don't log each request.")
    arguments = parser.parse_args(argv)
    server = MessagingSimulator(arguments.host, arguments.port, api_key=arguments.api_key, verbose=not arguments.quiet)
    server.serve_until_interrupted(
        f"Messaging simulator on {server.url} (api key {'required' if arguments.api_key else 'not checked'})"
    )


if __name__ == "__main__":
    main()
