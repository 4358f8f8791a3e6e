"""Example segments for the demo club, so a newcomer's first look at Segments shows real ones."""

from crm.kernel.actor import Actor
from marketing.errors import MarketingError, MarketingErrorCode
from marketing.models import Segment, SegmentKind
from marketing.services.segment_editing import segment_create
from marketing.services.segments import segment_refresh

DEMO_SEGMENTS = (
    (
        "Keen full members",
        "Full members with at least 3 rounds in the last 30 days.",
        {
            "all": [
                {"field": "tier", "op": "eq", "value": "Full"},
                {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
            ]
        },
        True,
    ),
    (
        "Going quiet",
        "Active members with no round in 60 days who still take email.",
        {
            "all": [
                {"field": "membership_status", "op": "eq", "value": "active"},
                {"activity": {"type": "round.completed", "count": {"op": "eq", "value": 0}, "within_last_days": 60}},
                {"field": "email_opt_in", "op": "eq", "value": True},
            ]
        },
        False,
    ),
    ("Birthdays this week", "", {"birthday": {"within_next_days": 7}}, False),
    ("Renewing within 60 days", "", {"field": "renewal_on", "op": "within_next_days", "value": 60}, False),
)


def demo_segments_setup(*, club) -> list[Segment]:
    """Create the example segments the club lacks (by name) and refresh them; never edits existing ones."""
    existing = set(Segment.objects.for_club(club).values_list("name", flat=True))
    made = []
    for name, description, rule, sync in DEMO_SEGMENTS:
        if name in existing:
            continue
        try:
            segment = segment_create(
                club=club, actor=Actor.system(), name=name, description=description, rule=rule, sync_to_messaging=sync
            )
        except MarketingError as error:
            if error.code != MarketingErrorCode.SEGMENT_NAME_TAKEN:  # a bad demo rule is a bug: say so
                raise
            continue  # a same-named segment appeared meanwhile
        segment_refresh(club=club, segment=segment)
        made.append(segment)
    if "Committee" not in existing:
        made.append(segment_create(club=club, actor=Actor.system(), name="Committee", kind=SegmentKind.STATIC))
    return made
