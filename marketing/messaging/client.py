"""HTTP client for the Messaging service: lists (segment sync), templates and batch sends.

Every mutating call takes an `idempotency_key` from the caller, derived from what the call is
about (never random), so a retry — by this client, by a Celery retry, or after a worker restart —
is recognised by Messaging and applied once. That is also why POSTs are retried at all: on
connection errors, timeouts, 5xx and 429, with exponential backoff and full jitter (so a fleet
of workers that failed together doesn't retry together), honouring Retry-After up to a cap.
Other 4xx answers are the request's fault and are raised at once.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class MessagingError(Exception):
    """Messaging answered with an error, or could not be reached. `status` is None when no answer came."""

    def __init__(self, message: str, *, method: str, path: str, status: int | None = None, body=None):
        super().__init__(message)
        self.method, self.path, self.status, self.body = method, path, status, body


class MessagingUnavailable(MessagingError):
    """A transient failure (connection, timeout, 5xx, 429) that outlasted the retries: try again later."""


class MessagingRejected(MessagingError):
    """A 4xx other than 429: the request itself is wrong (bad payload, key, reused idempotency key)."""


class MessagingNotFound(MessagingRejected):
    """404: the list or template does not exist (any more) in Messaging."""


@dataclass(frozen=True)
class MessagingList:
    id: str
    name: str
    external_id: str
    member_count: int


@dataclass(frozen=True)
class ListChange:
    """What one add or remove call changed; `unchanged` were already (or not) on the list."""

    changed: int
    unchanged: int
    member_count: int


@dataclass(frozen=True)
class ListMembersPage:
    members: list[dict]
    next_cursor: str | None


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    channel: str
    subject: str
    variables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SendOutcome:
    """One recipient of a batch send: accepted, duplicate (already sent under its key) or rejected."""

    external_id: str
    idempotency_key: str
    status: str
    message_id: str = ""
    reason: str = ""


class MessagingClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str = "",
        timeout_seconds: float = 10,
        max_retries: int = 4,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 30,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (timeout_seconds, timeout_seconds)  # (connect, read)
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "FairwayCRM/1"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    @classmethod
    def from_settings(cls, **overrides) -> "MessagingClient":
        options = {
            "base_url": settings.MESSAGING_BASE_URL,
            "api_key": settings.MESSAGING_API_KEY,
            "timeout_seconds": settings.MESSAGING_TIMEOUT_SECONDS,
            "max_retries": settings.MESSAGING_MAX_RETRIES,
            "backoff_seconds": settings.MESSAGING_BACKOFF_SECONDS,
            "backoff_max_seconds": settings.MESSAGING_BACKOFF_MAX_SECONDS,
        }
        return cls(**{**options, **overrides})

    # --- lists --------------------------------------------------------------------------

    def list_create(self, *, name: str, external_id: str, idempotency_key: str) -> MessagingList:
        body = self._request(
            "POST", "/v1/lists", json={"name": name, "external_id": external_id}, idempotency_key=idempotency_key
        )
        return _messaging_list(body)

    def list_get(self, *, list_id: str) -> MessagingList:
        return _messaging_list(self._request("GET", f"/v1/lists/{list_id}"))

    def list_add_contacts(self, *, list_id: str, contacts: list[dict], idempotency_key: str) -> ListChange:
        """Upsert `contacts` (each with an `external_id`) onto the list; already present ones are updated."""
        body = self._request(
            "POST", f"/v1/lists/{list_id}/members", json={"contacts": contacts}, idempotency_key=idempotency_key
        )
        return ListChange(body["added"], body["already_present"], body["member_count"])

    def list_remove_contacts(self, *, list_id: str, external_ids: list[str], idempotency_key: str) -> ListChange:
        body = self._request(
            "POST",
            f"/v1/lists/{list_id}/members/remove",
            json={"external_ids": external_ids},
            idempotency_key=idempotency_key,
        )
        return ListChange(body["removed"], body["not_present"], body["member_count"])

    def list_members(self, *, list_id: str, cursor: str | None = None, limit: int = 500) -> ListMembersPage:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = self._request("GET", f"/v1/lists/{list_id}/members", params=params)
        return ListMembersPage(body["members"], body.get("next_cursor"))

    # --- templates and sends ------------------------------------------------------------

    def templates(self) -> list[Template]:
        return [_template(row) for row in self._request("GET", "/v1/templates")["templates"]]

    def template_get(self, *, template_id: str) -> Template:
        return _template(self._request("GET", f"/v1/templates/{template_id}"))

    def messages_send_batch(
        self,
        *,
        channel: str,
        recipients: list[dict],
        idempotency_key: str,
        template_id: str = "",
        subject: str = "",
        body: str = "",
        variables: dict | None = None,
    ) -> list[SendOutcome]:
        """Send one message to up to 1,000 recipients. Each recipient carries its own
        `idempotency_key` too, so someone already sent in an earlier (differently cut) batch is
        reported as a duplicate rather than sent twice (SPEC 9)."""
        payload = {"channel": channel, "recipients": recipients, "variables": variables or {}}
        payload.update(
            {
                name: value
                for name, value in (("template_id", template_id), ("subject", subject), ("body", body))
                if value
            }
        )
        answer = self._request("POST", "/v1/messages/batch", json=payload, idempotency_key=idempotency_key)
        return [
            SendOutcome(
                external_id=str(row.get("external_id") or ""),
                idempotency_key=row.get("idempotency_key", ""),
                status=row["status"],
                message_id=row.get("message_id", ""),
                reason=row.get("reason", ""),
            )
            for row in answer["messages"]
        ]

    # --- plumbing -----------------------------------------------------------------------

    def _request(self, method: str, path: str, *, json=None, params=None, idempotency_key: str | None = None):
        if method != "GET" and not idempotency_key:
            raise ValueError(f"{method} {path} needs an idempotency key.")
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, self.base_url + path, json=json, params=params, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                milliseconds = round((time.monotonic() - started) * 1000)
                logger.warning(
                    "messaging %s %s failed (%s) attempt=%s ms=%s",
                    method,
                    path,
                    type(error).__name__,
                    attempt,
                    milliseconds,
                )
                if attempt > self.max_retries:
                    raise MessagingUnavailable(
                        f"Messaging did not answer {method} {path} after {attempt} attempts: {type(error).__name__}.",
                        method=method,
                        path=path,
                    ) from error
                self.sleep(self._backoff(attempt))
                continue
            milliseconds = round((time.monotonic() - started) * 1000)
            logger.info(
                "messaging %s %s status=%s attempt=%s ms=%s", method, path, response.status_code, attempt, milliseconds
            )
            if response.status_code < 400:
                return response.json()
            body = _body(response)
            if response.status_code in RETRYABLE_STATUSES:
                if attempt > self.max_retries:
                    raise MessagingUnavailable(
                        f"Messaging answered {response.status_code} to {method} {path} after {attempt} attempts.",
                        method=method,
                        path=path,
                        status=response.status_code,
                        body=body,
                    )
                self.sleep(self._backoff(attempt, retry_after=response.headers.get("Retry-After")))
                continue
            error_class = MessagingNotFound if response.status_code == 404 else MessagingRejected
            raise error_class(
                f"Messaging refused {method} {path} with {response.status_code}: {_message(body)}",
                method=method,
                path=path,
                status=response.status_code,
                body=body,
            )

    def _backoff(self, attempt: int, *, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1`: the server's Retry-After when it gave one
        (capped, so a wild value can't park a worker), else full jitter over an exponential ceiling."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.backoff_max_seconds)
            except ValueError:
                pass  # an HTTP date; rare enough to fall back to our own backoff
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


def _messaging_list(body: dict) -> MessagingList:
    return MessagingList(body["id"], body.get("name", ""), body.get("external_id", ""), body.get("member_count", 0))


def _template(body: dict) -> Template:
    return Template(
        body["id"],
        body.get("name", ""),
        body.get("channel", ""),
        body.get("subject", ""),
        list(body.get("variables", [])),
    )


def _body(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _message(body) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("message") or body["error"].get("code") or ""
    return str(body)[:200]
