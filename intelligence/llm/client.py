"""The wrapper around the Anthropic SDK: the only place in Fairway that imports `anthropic`.

Every call forces one tool, so the model answers with structured input that the caller
validates, never with prose to be scraped. Model, timeout and retries come from settings (the
SDK retries connection errors, 408/409/429 and 5xx with backoff); each call logs its purpose,
model, token usage and duration, and the prompt goes to the `intelligence.llm.prompts` logger
so what was sent to the model can be audited. SDK errors become one of three exceptions the rest
of the code can catch without knowing the SDK.
"""

import json
import logging
import time
from dataclasses import dataclass

from django.conf import settings

from intelligence.errors import IntelligenceError, IntelligenceErrorCode

logger = logging.getLogger(__name__)
prompt_logger = logging.getLogger("intelligence.llm.prompts")

MAX_OUTPUT_TOKENS = 4096


class LlmError(IntelligenceError):
    """Base of the client's errors: `code` for the API error body, `message` for people."""

    code = IntelligenceErrorCode.LLM_ERROR


class LlmNotConfigured(LlmError):
    code = IntelligenceErrorCode.LLM_NOT_CONFIGURED


class LlmUnavailable(LlmError):
    """The model could not be reached or refused the request (after the SDK's retries)."""

    code = IntelligenceErrorCode.LLM_UNAVAILABLE


class LlmBadOutput(LlmError):
    """The model answered, but not with usable tool input. `errors` lists {path, message}."""

    code = IntelligenceErrorCode.LLM_BAD_OUTPUT

    def __init__(self, message: str, details: dict | None = None, errors: list[dict] | None = None):
        self.errors = errors or []
        super().__init__(message, {**(details or {}), **({"errors": self.errors} if self.errors else {})})


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ToolCallResult:
    input: dict
    usage: TokenUsage
    model: str


def is_configured() -> bool:
    """Whether an API key is set; without one, callers use their offline fallback."""
    return bool(settings.ANTHROPIC_API_KEY)


def llm_tool_call(
    *,
    purpose: str,
    system: str,
    prompt: str,
    tool_name: str,
    tool_description: str,
    input_schema: dict,
    club=None,
) -> ToolCallResult:
    """Ask the model one question and make it answer by calling `tool_name`.

    Returns the tool's input as the model filled it in (not yet validated against anything but
    the model's reading of the schema). Raises LlmNotConfigured without a key, LlmUnavailable
    when the API can't be reached or refuses (after retries), LlmBadOutput when the reply has
    no usable tool call. Logs; writes nothing to the database.
    """
    if not is_configured():
        raise LlmNotConfigured("No Anthropic API key is configured (ANTHROPIC_API_KEY).")
    model = settings.ANTHROPIC_MODEL
    club_id = getattr(club, "pk", None)
    prompt_logger.info(
        "llm prompt purpose=%s club=%s model=%s system=%s prompt=%s",
        purpose,
        club_id,
        model,
        json.dumps(system),
        json.dumps(prompt),
    )
    # Imported on the first call, not with the module: the SDK brings about 3,000 modules (pydantic,
    # httpx), which every web and worker process would otherwise load with the URLconf, 1-2 s each.
    import anthropic

    started = time.perf_counter()
    try:
        with anthropic.Anthropic(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL or None,
            timeout=settings.ANTHROPIC_TIMEOUT_SECONDS,
            max_retries=settings.ANTHROPIC_MAX_RETRIES,
        ) as client:
            response = client.messages.create(
                model=model,
                max_tokens=MAX_OUTPUT_TOKENS,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                tools=[{"name": tool_name, "description": tool_description, "input_schema": input_schema}],
                tool_choice={"type": "tool", "name": tool_name},
            )
    except anthropic.APITimeoutError as error:  # before APIConnectionError: it is a subclass
        _log_failure(purpose, club_id, model, started, error)
        raise LlmUnavailable(
            "The AI service did not answer in time; try again in a moment.", {"reason": "timeout"}
        ) from error
    except anthropic.APIConnectionError as error:
        _log_failure(purpose, club_id, model, started, error)
        raise LlmUnavailable(
            "The AI service could not be reached; try again in a moment.", {"reason": "connection"}
        ) from error
    except anthropic.RateLimitError as error:
        _log_failure(purpose, club_id, model, started, error)
        raise LlmUnavailable(
            "The AI service is busy (rate limited); try again in a minute.", {"reason": "rate_limited", "status": 429}
        ) from error
    except anthropic.APIStatusError as error:
        _log_failure(purpose, club_id, model, started, error)
        raise LlmUnavailable(
            f"The AI service refused the request (HTTP {error.status_code}).",
            {"reason": "status", "status": error.status_code},
        ) from error
    except anthropic.AnthropicError as error:  # credentials, response validation: still "not available"
        _log_failure(purpose, club_id, model, started, error)
        raise LlmUnavailable("The AI service could not be used.", {"reason": type(error).__name__}) from error

    milliseconds = round((time.perf_counter() - started) * 1000)
    usage = TokenUsage(input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens)
    logger.info(
        "llm call purpose=%s club=%s model=%s input_tokens=%s output_tokens=%s stop_reason=%s milliseconds=%s",
        purpose,
        club_id,
        response.model,
        usage.input_tokens,
        usage.output_tokens,
        response.stop_reason,
        milliseconds,
    )
    return ToolCallResult(input=_tool_input(response, tool_name), usage=usage, model=response.model)


def _tool_input(response, tool_name: str) -> dict:
    if response.stop_reason == "max_tokens":
        # The tool input was cut off mid-way; what arrived may parse but is not the whole answer.
        raise LlmBadOutput("The AI answer was cut off before it was complete.", {"stop_reason": "max_tokens"})
    for block in response.content:
        if block.type == "tool_use" and block.name == tool_name:
            if not isinstance(block.input, dict):
                raise LlmBadOutput("The AI answered the tool with something other than an object.")
            return block.input
    text = " ".join(block.text for block in response.content if block.type == "text").strip()
    raise LlmBadOutput(
        "The AI answered in words instead of filling in the rule; rephrase and try again.",
        {"stop_reason": response.stop_reason, "text": text[:500]},
    )


def _log_failure(purpose: str, club_id, model: str, started: float, error: Exception) -> None:
    logger.warning(
        "llm call failed purpose=%s club=%s model=%s error=%s milliseconds=%s",
        purpose,
        club_id,
        model,
        type(error).__name__,
        round((time.perf_counter() - started) * 1000),
    )
