"""Error codes for the marketing app (segments and their Messaging lists); the string values are
what API bodies carry, so they never change once published."""

from enum import StrEnum

from crm.kernel.errors import DomainError


class MarketingErrorCode(StrEnum):
    INVALID_RULE = "invalid_rule"
    INVALID_SEGMENT = "invalid_segment"
    SEGMENT_NAME_TAKEN = "segment_name_taken"


class MarketingError(DomainError):
    def __init__(self, code: MarketingErrorCode, message: str, details: dict | None = None):
        super().__init__(code, message, details)
