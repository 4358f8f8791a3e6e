"""The LLM client against the fake Messages API over real HTTP: the forced tool call, token usage,
and the SDK's failures mapped to LlmUnavailable / LlmBadOutput after its own retries."""

import logging
from pathlib import Path

import pytest

from intelligence.llm import LlmBadOutput, LlmNotConfigured, LlmUnavailable, is_configured, llm_tool_call

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
REPOSITORY = Path(__file__).resolve().parents[2]


def ask(**overrides):
    arguments = {
        "purpose": "test",
        "system": "Answer with the tool.",
        "prompt": "Say hello.",
        "tool_name": "reply",
        "tool_description": "The reply.",
        "input_schema": SCHEMA,
    }
    return llm_tool_call(**{**arguments, **overrides})


def test_a_tool_call_returns_the_tool_input_usage_and_model(fake_anthropic, caplog):
    fake_anthropic.script({"tool_input": {"answer": "hello"}, "usage": {"input_tokens": 120, "output_tokens": 7}})
    with caplog.at_level(logging.INFO, logger="intelligence.llm"):
        result = ask()
    assert result.input == {"answer": "hello"}
    assert (result.usage.input_tokens, result.usage.output_tokens) == (120, 7)
    assert result.model == "claude-sonnet-5-5"
    logged = caplog.text
    assert "purpose=test" in logged and "input_tokens=120" in logged and "output_tokens=7" in logged
    assert "milliseconds=" in logged and '"Say hello."' in logged  # the prompt is kept for audit


def test_the_request_forces_the_tool_with_its_schema(fake_anthropic):
    fake_anthropic.script({"tool_input": {"answer": "hello"}})
    ask()
    (request,) = fake_anthropic.recorded_requests()
    body = request["body"]
    assert request["path"] == "/v1/messages"
    assert body["tool_choice"] == {"type": "tool", "name": "reply"}
    assert body["tools"] == [{"name": "reply", "description": "The reply.", "input_schema": SCHEMA}]
    assert body["model"] == "claude-sonnet-5-5" and body["system"] == "Answer with the tool."
    assert body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert request["headers"]["anthropic-version"]
    assert "<redacted>" in (request["headers"].get("x-api-key"), request["headers"].get("authorization"))


def test_server_errors_become_unavailable_after_the_sdks_retries(fake_anthropic):
    fake_anthropic.script({"status": 500}, {"status": 500})
    with pytest.raises(LlmUnavailable) as raised:
        ask()
    assert raised.value.details == {"reason": "status", "status": 500}
    assert len(fake_anthropic.recorded_requests()) == 2  # the first try and one retry


def test_a_retry_that_succeeds_is_not_an_error(fake_anthropic):
    fake_anthropic.script({"status": 529}, {"tool_input": {"answer": "second time"}})
    assert ask().input == {"answer": "second time"}


def test_rate_limits_become_unavailable(fake_anthropic):
    fake_anthropic.script({"status": 429}, {"status": 429})
    with pytest.raises(LlmUnavailable) as raised:
        ask()
    assert raised.value.details["reason"] == "rate_limited"


def test_a_timeout_becomes_unavailable(fake_anthropic, settings):
    settings.ANTHROPIC_TIMEOUT_SECONDS = 0.3
    late = {"tool_input": {"answer": "too late"}, "delay_seconds": 1}
    fake_anthropic.script(late, late)
    with pytest.raises(LlmUnavailable) as raised:
        ask()
    assert raised.value.details == {"reason": "timeout"}
    assert len(fake_anthropic.recorded_requests()) == 2


def test_nothing_scripted_is_a_clear_refusal_without_retrying(fake_anthropic):
    with pytest.raises(LlmUnavailable) as raised:
        ask()
    assert raised.value.details["status"] == 400
    assert len(fake_anthropic.recorded_requests()) == 1


def test_an_unreachable_server_becomes_unavailable(fake_anthropic, settings):
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # the discard port: connection refused
    settings.ANTHROPIC_MAX_RETRIES = 0
    with pytest.raises(LlmUnavailable) as raised:
        ask()
    assert raised.value.details == {"reason": "connection"}


def test_a_reply_without_the_tool_is_bad_output(fake_anthropic):
    fake_anthropic.script({"text_only": "I think you mean gold members."})
    with pytest.raises(LlmBadOutput) as raised:
        ask()
    assert raised.value.details["text"] == "I think you mean gold members."


def test_a_cut_off_reply_is_bad_output(fake_anthropic):
    fake_anthropic.script({"tool_input": {"answer": "hel"}, "stop_reason": "max_tokens"})
    with pytest.raises(LlmBadOutput):
        ask()


def test_without_a_key_nothing_is_called(settings):
    settings.ANTHROPIC_API_KEY = ""
    assert not is_configured()
    with pytest.raises(LlmNotConfigured):
        ask()


def test_only_the_llm_package_imports_anthropic():
    offenders = []
    for path in REPOSITORY.rglob("*.py"):
        relative = path.relative_to(REPOSITORY)
        if relative.parts[0] in (".venv", "node_modules", "staticfiles") or relative.parts[:2] == (
            "intelligence",
            "llm",
        ):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith(("import anthropic", "from anthropic")):
                offenders.append(f"{relative}:{number}")
    assert offenders == []
