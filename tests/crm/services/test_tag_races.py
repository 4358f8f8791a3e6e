"""Tag edits that race other tag writes: a deleted tag's every profile is announced, and a rename
that loses a race for a name is refused (invalid_tag), never a 500."""

import threading

import pytest
from django.db import IntegrityError, connection

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import ProfileTag
from crm.services.tags import profiles_tag, tag_create, tag_delete, tag_update
from tests.factories import ProfileFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the race needs concurrent writers; SQLite serialises them. CI runs this on PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def run_after_query(fragment: str, work, *, wait: float = 2.0):
    """A database wrapper that, once a query containing `fragment` has run on this connection,
    does `work` on another connection and waits for it (at most `wait` seconds: a writer blocked
    by this transaction's locks finishes after it commits). The thread's errors land in `errors`."""
    thread = threading.Thread(target=lambda: _work_in_thread(work, errors))
    errors: list[Exception] = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if fragment in sql and not thread.is_alive() and thread.ident is None:
            thread.start()
            thread.join(timeout=wait)
        return result

    wrapper.thread, wrapper.errors = thread, errors
    return wrapper


def _work_in_thread(work, errors):
    try:
        work()
    except Exception as error:  # surfaced by the test; a thread's exception is otherwise lost
        errors.append(error)
    finally:
        connection.close()


def test_a_tag_deleted_while_someone_tags_with_it_announces_every_profile_it_came_off(club_a, announced):
    staff = Actor.system()
    tag = tag_create(club=club_a, actor=staff, name="Winter league")
    ann, bob = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    profiles_tag(club=club_a, actor=staff, profile_ids=[ann.pk], tag=tag)
    announced.clear()
    tag_bob = run_after_query(
        'SELECT "crm_profiletag"."profile_id"',
        lambda: profiles_tag(club=club_a, actor=staff, profile_ids=[bob.pk], tag=tag),
    )

    with connection.execute_wrapper(tag_bob):
        tag_delete(club=club_a, actor=staff, tag=tag)
    tag_bob.thread.join(timeout=10)

    assert not ProfileTag.objects.for_club(club_a).exists()
    # Bob's tagging either lands before the delete (and is announced with it) or finds the tag gone.
    assert announced[-1] == sorted([ann.pk, bob.pk]) or [type(error) for error in tag_bob.errors] == [IntegrityError]


def test_a_rename_that_loses_the_race_for_a_name_is_refused(club_a):
    staff = Actor.system()
    juniors, seniors = (tag_create(club=club_a, actor=staff, name=name) for name in ("Juniors", "Seniors"))
    rename_seniors = run_after_query(
        'FROM "crm_tag"', lambda: tag_update(club=club_a, actor=staff, tag=seniors, name="Academy", color="")
    )

    with connection.execute_wrapper(rename_seniors), pytest.raises(CrmError) as refusal:
        tag_update(club=club_a, actor=staff, tag=juniors, name="Academy", color="")

    assert refusal.value.code == CrmErrorCode.INVALID_TAG
    assert not rename_seniors.errors
    juniors.refresh_from_db()
    assert juniors.name == "Juniors"
