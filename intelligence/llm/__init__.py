"""The one module that talks to Anthropic (SPEC 19). Import from here, never from `anthropic`."""

from intelligence.llm.client import (
    LlmBadOutput,
    LlmError,
    LlmNotConfigured,
    LlmUnavailable,
    TokenUsage,
    ToolCallResult,
    is_configured,
    llm_tool_call,
)

__all__ = [
    "LlmBadOutput",
    "LlmError",
    "LlmNotConfigured",
    "LlmUnavailable",
    "TokenUsage",
    "ToolCallResult",
    "is_configured",
    "llm_tool_call",
]
