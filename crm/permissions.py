"""Role checks shared by pages and admin (the API adds scopes on top later)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

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
