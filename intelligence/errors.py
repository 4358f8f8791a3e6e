"""Error codes for the intelligence app: the model out of reach or answering badly, and a
sentence the offline parser can't read. The string values are what API bodies carry."""

from enum import StrEnum

from crm.kernel.errors import DomainError


class IntelligenceErrorCode(StrEnum):
    LLM_ERROR = "llm_error"
    LLM_NOT_CONFIGURED = "llm_not_configured"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_BAD_OUTPUT = "llm_bad_output"
    SEGMENT_TEXT_NOT_UNDERSTOOD = "segment_text_not_understood"


class IntelligenceError(DomainError):
    """A refusal whose code is fixed by its class (`code` as a class attribute)."""

    code = IntelligenceErrorCode.LLM_ERROR

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(type(self).code, message, details)
