"""The pages' half of the edge kit: who may open a page (`club_page`), and the one translation of
a service's refusal (a DomainError) for pages and the admin: a message on the next page, a form
error on a field, or the refusal kept for the page to show.

    with domain_errors_shown(request) as refusal:
        result = segment_refresh(club=request.club, segment=segment)
        messages.success(request, f"Refreshed: {result.summary()}.")
    return redirect(...)              # reached either way; `refusal` says whether it was refused

The block stops at the refusal, which is shown (or kept) and swallowed; anything else propagates.
"""

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from crm.edges.api.errors import domain_error_status
from crm.kernel.errors import DomainError
from crm.models.clubs import Capability, role_allows


def club_page(capability: Capability = Capability.VIEW):
    """Decorator for marketer/staff pages: logged in, a current club, and the role's capability."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.club is None:
                return render(request, "crm/no_club.html", status=403)
            if not role_allows(request.club_role, capability):
                raise PermissionDenied(f"Your role at {request.club} cannot do this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@dataclass
class Refusal:
    """What a `domain_errors_shown` block ended with: the refusal, or None when it went through."""

    error: DomainError | None = None

    def __bool__(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> int:
        """The HTTP status a page shows the refusal with: the API's, from the one table."""
        return domain_error_status(self.error)


def domain_error_messages(error: DomainError) -> list[str]:
    """The message, then each {path, message} problem the details list (a rule's, a model's)."""
    problems = [f"{item['path']}: {item['message']}" for item in error.details.get("errors", [])]
    return [error.message, *problems]


@contextmanager
def domain_errors_shown(
    request=None, *, form=None, field: str | Callable[[DomainError], str] | None = None, prefix: str = ""
):
    """Swallow a DomainError raised in the block: with `request`, as an error message (after
    `prefix`, e.g. the row's name in a bulk action); with `form`, as errors on `field` (a name, or
    a function choosing one from the error); with neither, only kept on the yielded Refusal."""
    refusal = Refusal()
    try:
        yield refusal
    except DomainError as error:
        refusal.error = error
        if request is not None:
            messages.error(request, f"{prefix}{error.message}")
        if form is not None:
            form.add_error(field(error) if callable(field) else field, domain_error_messages(error))
