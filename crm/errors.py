"""Error codes for the crm app: the same code and message reach the API, admin and pages."""

from enum import StrEnum

from crm.kernel.errors import DomainError


class CrmErrorCode(StrEnum):
    INVALID_IDENTIFIER = "invalid_identifier"
    IDENTIFIER_TAKEN = "identifier_taken"
    INVALID_TAG = "invalid_tag"
    EMPTY_NOTE = "empty_note"
    NOT_PERMITTED = "not_permitted"
    INVALID_STAFF = "invalid_staff"
    MERGE_REFUSED = "merge_refused"
    NOT_FOUND = "not_found"
    INVALID_IMPORT = "invalid_import"


class CrmError(DomainError):
    def __init__(self, code: CrmErrorCode, message: str, details: dict | None = None):
        super().__init__(code, message, details)
