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


def require_in_club(club, *objects) -> None:
    """Refuse (CrmError not_found) when any of `objects` belongs to another club than `club`.

    The one club check services make on objects handed to them: to someone working in one club,
    another club's row does not exist, so it answers as missing (SPEC: another club's object
    answers 404), never as "not permitted", which would confirm that it exists. It lives beside
    crm's codes rather than in the kernel's tenancy, which raises nothing of any app.
    """
    for item in objects:
        if item.club_id != club.pk:
            raise CrmError(CrmErrorCode.NOT_FOUND, f"No such {item._meta.verbose_name} in this club.")
