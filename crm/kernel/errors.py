"""The one base of every app's refusals: a code from the app's enum, a message for people and
details for programs. Services raise them and never choose how they are shown; each edge kind
translates them in one place (the DRF exception handler, the GraphQL error formatter, the
page/admin helper), which is also where a code's HTTP status is decided."""

from enum import StrEnum


class DomainError(Exception):
    """A refusal by the domain: `code` is a member of the raising app's error-code enum (its
    string value is what API bodies carry), `message` is shown as is, `details` is JSON-safe."""

    def __init__(self, code: StrEnum, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
