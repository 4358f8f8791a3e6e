"""Staff authentication policy on top of django-allauth."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.shortcuts import redirect

from crm.kernel.actor import Actor, client_ip
from crm.models import AuditAction, ClubMembership, Role
from crm.services.audit import audit_record


class StaffAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Staff are invited by a club owner or admin; nobody signs themselves up.
        return False

    def login(self, request, user):
        super().login(request, user)
        actor = Actor.for_user(user, ip_address=client_ip(request))
        audit_record(club=None, actor=actor, action=AuditAction.LOGIN, target=user)


def user_must_use_mfa(user) -> bool:
    if not settings.FAIRWAY_REQUIRE_OWNER_MFA or not user.is_authenticated:
        return False
    return user.is_superuser or ClubMembership.objects.filter(user=user, role=Role.OWNER).exists()


def user_has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class OwnerMfaRequiredMiddleware:
    """Owners and platform operators must turn on TOTP before they can do anything else (SPEC 2)."""

    EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            not request.path.startswith(self.EXEMPT_PREFIXES)
            and user_must_use_mfa(request.user)
            and not user_has_totp(request.user)
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)
