"""Error codes for the marketing app (segments, their Messaging lists, the send ledger); the string
values are what API bodies carry, so they never change once published."""

from enum import StrEnum

from crm.kernel.errors import DomainError


class MarketingErrorCode(StrEnum):
    INVALID_RULE = "invalid_rule"
    INVALID_SEGMENT = "invalid_segment"
    SEGMENT_NAME_TAKEN = "segment_name_taken"
    # The send ledger (marketing/services/sends.py): what a marketer's campaign or journey, or staff
    # adding a suppression, can get wrong, so an edge answers it like any refusal. A mistake only
    # code can make (a source kind other than SendSource's two) stays a ValueError: no request
    # carries it, and a bug should fail loudly rather than read as the user's 400.
    INVALID_SEND = "invalid_send"
    SEND_CONTENT_FIXED = "send_content_fixed"
    INVALID_SUPPRESSION = "invalid_suppression"


class MarketingError(DomainError):
    def __init__(self, code: MarketingErrorCode, message: str, details: dict | None = None):
        super().__init__(code, message, details)
