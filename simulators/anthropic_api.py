"""A local stand-in for Anthropic's Messages API, over real HTTP, standard library only.

The real SDK is pointed at it (ANTHROPIC_BASE_URL), so tests and the demo exercise the same
client code as production without reaching the network.

    python -m simulators.anthropic_api --port 8026 [--default-tool-input '{"rule": {...}}']

Endpoints:

- `POST /v1/messages`: answers with the next scripted response, and records the request.
- `POST /_sim/script`: queue responses (a list, or one object), answered in order, one per request:
    - `{"tool_input": {...}}`: a `tool_use` block for the forced tool (or `"tool_name"`), stop_reason
      "tool_use"; optional `"usage": {"input_tokens", "output_tokens"}`;
    - `{"text_only": "..."}`: a text block only, stop_reason "end_turn" (a model that didn't use the tool);
    - `{"status": 500}`: an API error body with that status (optional `"error_type"`, `"message"`;
      `"retry_after_ms"`, default 10, so the SDK's retries don't slow the tests down);
    - any of them with `"delay_seconds": 2`: wait first (to make the client time out).
- `GET /_sim/requests`: every recorded `/v1/messages` request: `{"path", "headers", "body"}` (header
  names lower-cased; credentials shown as "<redacted>").
- `POST /_sim/reset`: forget the script and the recorded requests.

With nothing scripted, `/v1/messages` answers with `--default-tool-input` when one was given,
otherwise with a 400 `invalid_request_error` saying nothing was scripted (and `x-should-retry:
false`), so a test that forgot to script fails at once with a clear message.
"""

import argparse
import itertools
import json
import threading
import time
from urllib import request as urllib_request

from simulators._server import JsonHandler, LocalServer

CREDENTIAL_HEADERS = {"x-api-key", "authorization"}  # recorded as present, never their values
SCRIPT_KINDS = {"tool_input", "text_only", "status"}


class AnthropicSimulator:
    """The fake server; `start()` serves it from a thread on a free port (or the given one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default_tool_input: dict | None = None):
        self.default_tool_input = default_tool_input
        self._lock = threading.Lock()
        self._script: list[dict] = []
        self._requests: list[dict] = []
        self._ids = itertools.count(1)
        self.server = LocalServer((host, port), _handler_for(self))

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "AnthropicSimulator":
        self.server.start_in_thread()
        return self

    def stop(self) -> None:
        self.server.stop()

    # --- Control over HTTP, for tests (the same endpoints a person would curl) ---------------

    def script(self, *responses: dict) -> None:
        self._control("POST", "/_sim/script", list(responses))

    def recorded_requests(self) -> list[dict]:
        return self._control("GET", "/_sim/requests")

    def reset(self) -> None:
        self._control("POST", "/_sim/reset", {})

    def _control(self, method: str, path: str, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        outgoing = urllib_request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib_request.urlopen(outgoing, timeout=5) as response:
            return json.loads(response.read())

    # --- What the handler calls ---------------------------------------------------------------

    def enqueue(self, responses) -> int:
        with self._lock:
            self._script.extend(responses if isinstance(responses, list) else [responses])
            return len(self._script)

    def record_and_take(self, record: dict) -> dict | None:
        with self._lock:
            self._requests.append(record)
            return self._script.pop(0) if self._script else None

    def requests_so_far(self) -> list[dict]:
        with self._lock:
            return list(self._requests)

    def forget(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)


def _handler_for(simulator: AnthropicSimulator):
    class Handler(JsonHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path == "/_sim/requests":
                return self._send(200, simulator.requests_so_far())
            return self._send(404, _error_body("not_found_error", f"No route GET {self.path}."))

        def do_POST(self):  # noqa: N802
            try:
                body = self.read_json()
            except ValueError:
                body = None
            if self.path == "/_sim/script":
                responses = body if isinstance(body, list) else [body]
                if not all(isinstance(item, dict) and SCRIPT_KINDS & set(item) for item in responses):
                    message = f"Each scripted response needs one of {sorted(SCRIPT_KINDS)}."
                    return self._send(400, _error_body("invalid_request_error", message))
                return self._send(200, {"queued": simulator.enqueue(responses)})
            if self.path == "/_sim/reset":
                simulator.forget()
                return self._send(200, {"reset": True})
            if self.path.split("?")[0] == "/v1/messages":
                return self._messages(body)
            return self._send(404, _error_body("not_found_error", f"No route POST {self.path}."))

        def _messages(self, body):
            headers = {
                name.lower(): "<redacted>" if name.lower() in CREDENTIAL_HEADERS else value
                for name, value in self.headers.items()
            }
            scripted = simulator.record_and_take({"path": self.path, "headers": headers, "body": body})
            if not isinstance(body, dict):
                return self._send(400, _error_body("invalid_request_error", "The body must be a JSON object."))
            if scripted is None and simulator.default_tool_input is not None:
                scripted = {"tool_input": simulator.default_tool_input}
            if scripted is None:
                return self._send(
                    400,
                    _error_body(
                        "invalid_request_error",
                        "Anthropic simulator: no response scripted; POST /_sim/script first "
                        "(or start it with --default-tool-input).",
                    ),
                    {"x-should-retry": "false"},
                )
            if scripted.get("delay_seconds"):
                time.sleep(float(scripted["delay_seconds"]))
            if "status" in scripted:
                status = int(scripted["status"])
                error_type = scripted.get("error_type") or _error_type_for(status)
                message = scripted.get("message") or f"Simulated {status}."
                return self._send(
                    status,
                    _error_body(error_type, message),
                    {"retry-after-ms": str(scripted.get("retry_after_ms", 10))},
                )
            return self._send(200, _message(simulator.next_id(), body, scripted))

        def _send(self, status: int, payload, extra_headers: dict | None = None):
            self.send_json(status, payload, {"request-id": f"req_sim_{simulator.next_id()}", **(extra_headers or {})})

    return Handler


def _message(number: int, request_body: dict, scripted: dict) -> dict:
    """A well-formed Messages API response for one scripted answer."""
    model = request_body.get("model") or "claude-simulated"
    if "text_only" in scripted:
        content = [{"type": "text", "text": scripted["text_only"]}]
        stop_reason = "end_turn"
        output = scripted["text_only"]
    else:
        tool_name = scripted.get("tool_name") or _forced_tool(request_body)
        content = [
            {"type": "tool_use", "id": f"toolu_sim_{number:06d}", "name": tool_name, "input": scripted["tool_input"]}
        ]
        stop_reason = scripted.get("stop_reason", "tool_use")
        output = json.dumps(scripted["tool_input"])
    # Roughly four characters a token: enough for logs and tests to see plausible numbers.
    usage = scripted.get("usage") or {
        "input_tokens": max(1, len(json.dumps(request_body)) // 4),
        "output_tokens": max(1, len(output) // 4),
    }
    return {
        "id": f"msg_sim_{number:06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def _forced_tool(request_body: dict) -> str:
    choice = request_body.get("tool_choice") or {}
    if choice.get("type") == "tool" and choice.get("name"):
        return choice["name"]
    tools = request_body.get("tools") or [{}]
    return tools[0].get("name") or "tool"


def _error_type_for(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error")


def _error_body(error_type: str, message: str) -> dict:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def main() -> None:
    parser = argparse.ArgumentParser(description="A local fake of Anthropic's Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--default-tool-input", help="JSON answered when nothing is scripted.")
    arguments = parser.parse_args()
    default = json.loads(arguments.default_tool_input) if arguments.default_tool_input else None
    simulator = AnthropicSimulator(arguments.host, arguments.port, default_tool_input=default)
    simulator.server.serve_until_interrupted(
        f"Anthropic simulator on {simulator.url} (POST /v1/messages, /_sim/script; GET /_sim/requests)"
    )


if __name__ == "__main__":
    main()
