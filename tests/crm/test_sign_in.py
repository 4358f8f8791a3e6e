"""Staff sign in through allauth (no sign-up), with an audit row; a wrong password signs no one in."""

from django.urls import reverse

from crm.models import Role


def test_login_page_renders_and_signs_staff_in_with_an_audit_row(client, club_a):
    from crm.models import AuditAction, AuditLog
    from tests.conftest import staff_in

    user = staff_in(club_a, Role.MARKETER, email="mia@alpha.test")
    page = client.get(reverse("account_login"))
    assert page.status_code == 200 and b"sign up" not in page.content.lower()
    response = client.post(reverse("account_login"), {"login": "Mia@Alpha.test", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == reverse("crm:dashboard")
    assert AuditLog.objects.unscoped_across_clubs().filter(action=AuditAction.LOGIN, actor=user).count() == 1


def test_wrong_password_does_not_sign_in(client, club_a):
    from tests.conftest import staff_in

    staff_in(club_a, Role.MARKETER, email="mia@alpha.test")
    response = client.post(reverse("account_login"), {"login": "mia@alpha.test", "password": "wrong"})
    assert response.status_code == 200
    assert client.get(reverse("crm:dashboard")).status_code == 302
