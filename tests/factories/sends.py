"""Factories for the send ledger's tests: profiles a message can reach on every channel."""

import factory

from tests.factories import ProfileFactory


class ReachableProfileFactory(ProfileFactory):
    """Opted in on every channel, with an email and a phone: only what a test changes stops a send."""

    primary_phone = factory.Sequence(lambda n: f"+2782{n:07d}")
    email_opt_in = True
    sms_opt_in = True
    push_opt_in = True
    whatsapp_opt_in = True
