"""What each catalog type does to a profile, and the line it writes on the timeline.

Handlers run inside the batch transaction with the profile row locked. They change a
ProfileDraft (survivorship decides what sticks) and return the activity summary. Nothing here
queries the database per event; the batch loads what handlers need up front.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from crm.events.catalog import CHANNELS
from crm.models import Activity, InboundEvent, Tournament, TournamentStatus
from crm.services.survivorship import ProfileDraft


@dataclass
class Applying:
    """One event (or one person of a multi-person event) being applied."""

    club: object
    row: InboundEvent
    data: dict
    at: datetime
    source: str
    draft: ProfileDraft | None
    phone: str | None
    tournaments: dict[str, Tournament]
    warnings: list[str] = field(default_factory=list)

    def local(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.club.timezone)).strftime("%a %d %b %Y %H:%M")

    def money(self, amount: Decimal) -> str:
        currency = self.data.get("currency") or self.club.currency
        return f"{currency} {amount:,.2f}"


def person_values(applying: Applying) -> dict:
    data = applying.data
    address = data.get("address") or {}
    return {
        "first_name": data.get("first_name"),
        "last_name": data.get("last_name"),
        "primary_email": data.get("email"),
        "primary_phone": applying.phone,
        "date_of_birth": data.get("date_of_birth"),
        "gender": data.get("gender"),
        "address_line": address.get("line"),
        "city": address.get("city"),
        "postcode": address.get("postcode"),
        "country": (address.get("country") or "").upper(),
        "locale": data.get("locale"),
        "timezone": data.get("timezone"),
    }


def _offer(applying: Applying, values: dict) -> None:
    applying.draft.offer_many(values, source=applying.source, at=applying.at)


# --- SCL ----------------------------------------------------------------------------------


def _member_values(applying: Applying) -> dict:
    data = applying.data
    return {
        **person_values(applying),
        "member_number": data.get("member_number"),
        "membership_status": data.get("status"),
        "membership_tier": data.get("tier"),
        "membership_joined_on": data.get("joined_on"),
        "membership_renewal_on": data.get("renewal_on"),
    }


def member_created(applying: Applying) -> str:
    _offer(applying, _member_values(applying))
    status, tier = applying.data.get("status"), applying.data.get("tier")
    if status == "prospect":
        return "Registered as a prospective member"
    return f"Joined as {tier + ' ' if tier else ''}member" + (f" ({status})" if status else "")


def _changed_fields(applying: Applying, own_id: str) -> str:
    """The fields an update carried, in words: ": first name, renewal on"."""
    changed = sorted(name.replace("_", " ") for name in applying.data if name != own_id)
    return f": {', '.join(changed)}" if changed else ""


def member_updated(applying: Applying) -> str:
    _offer(applying, _member_values(applying))
    return "Member details updated" + _changed_fields(applying, "member_id")


def membership_renewed(applying: Applying) -> tuple[str, Decimal | None]:
    data = applying.data
    _offer(
        applying,
        {
            "membership_status": "active",
            "membership_renewal_on": data["renewal_on"],
            "membership_tier": data.get("tier"),
        },
    )
    tier = f"{data['tier']} " if data.get("tier") else ""
    return f"Renewed {tier}membership until {data['renewal_on']:%d %b %Y}", data.get("amount")


def membership_lapsed(applying: Applying) -> str:
    _offer(applying, {"membership_status": "lapsed", "membership_lapsed_on": applying.data["lapsed_on"]})
    return f"Membership lapsed on {applying.data['lapsed_on']:%d %b %Y}"


def membership_tier_changed(applying: Applying) -> str:
    data = applying.data
    _offer(applying, {"membership_tier": data["tier"]})
    previous = data.get("previous_tier")
    return f"Tier changed {'from ' + previous + ' ' if previous else ''}to {data['tier']}"


def membership_suspended(applying: Applying) -> str:
    _offer(applying, {"membership_status": "suspended"})
    reason = applying.data.get("reason")
    return "Membership suspended" + (f": {reason}" if reason else "")


def membership_resigned(applying: Applying) -> str:
    _offer(applying, {"membership_status": "resigned"})
    reason = applying.data.get("reason")
    return "Resigned from the club" + (f": {reason}" if reason else "")


def payment_received(applying: Applying) -> tuple[str, Decimal]:
    amount = applying.data["amount"]
    description = applying.data.get("description")
    return f"Payment received: {applying.money(amount)}" + (f" ({description})" if description else ""), amount


def payment_failed(applying: Applying) -> tuple[str, Decimal]:
    amount = applying.data["amount"]
    reason = applying.data.get("reason")
    return f"Payment failed: {applying.money(amount)}" + (f" ({reason})" if reason else ""), amount


# --- TeeTime ------------------------------------------------------------------------------


def _player_values(applying: Applying) -> dict:
    return {
        **person_values(applying),
        "handicap_index": applying.data.get("handicap_index"),
        "home_course": applying.data.get("home_course"),
    }


def player_created(applying: Applying) -> str:
    _offer(applying, _player_values(applying))
    handicap = applying.data.get("handicap_index")
    return "Registered as a golfer" + (f" (handicap {handicap})" if handicap is not None else "")


def player_updated(applying: Applying) -> str:
    _offer(applying, _player_values(applying))
    return "Golfer details updated" + _changed_fields(applying, "player_id")


def _booking_when(applying: Applying) -> str:
    tee_time = applying.data.get("tee_time")
    return f" for {applying.local(tee_time)}" if tee_time else ""


def booking_created(applying: Applying) -> tuple[str, Decimal | None]:
    data = applying.data
    players = data.get("players")
    details = [
        part
        for part in (data.get("course"), f"{players} player{'s' if players != 1 else ''}" if players else None)
        if part
    ]
    summary = f"Booked a tee time{_booking_when(applying)}" + (f" ({', '.join(details)})" if details else "")
    return summary, data.get("amount")


def booking_cancelled(applying: Applying) -> str:
    reason = applying.data.get("reason")
    return f"Cancelled a booking{_booking_when(applying)}" + (f": {reason}" if reason else "")


def booking_checked_in(applying: Applying) -> str:
    return f"Checked in{_booking_when(applying)}"


def booking_no_show(applying: Applying) -> str:
    return f"Did not show up{_booking_when(applying)}"


def round_completed(applying: Applying) -> str:
    data = applying.data
    applying.draft.increment("rounds_played")
    applying.draft.keep_latest("last_round_at", applying.at)
    _offer(applying, {"handicap_index": data.get("handicap_index")})
    scores = [
        f"gross {data['gross_score']}" if data.get("gross_score") else None,
        f"{data['stableford_points']} points" if data.get("stableford_points") is not None else None,
    ]
    scores = [part for part in scores if part]
    where = f" at {data['course']}" if data.get("course") else ""
    return f"Played {data.get('holes') or 18} holes{where}" + (f" ({', '.join(scores)})" if scores else "")


def tournament_entry_created(applying: Applying) -> str:
    tournament = applying.tournaments.get(applying.data["tournament_id"])
    if tournament is None:
        applying.warnings.append(
            f"tournament {applying.data['tournament_id']} is not known yet; counted when it arrives"
        )
        return f"Entered tournament {applying.data['tournament_id']}"
    tournament.entries_count += 1
    tournament._changed = True
    return f"Entered {tournament.name} ({applying.local(tournament.starts_at)})"


# --- Messaging ----------------------------------------------------------------------------


def contact_created(applying: Applying) -> str:
    _offer(applying, person_values(applying))
    return "Added to the Messaging service"


def contact_updated(applying: Applying) -> str:
    _offer(applying, person_values(applying))
    return "Messaging contact updated" + _changed_fields(applying, "contact_id")


def consent_updated(applying: Applying) -> str:
    channels = applying.data["channels"]
    for channel in CHANNELS:
        if channel in channels:
            applying.draft.offer(f"{channel}_opt_in", channels[channel], source="messaging", at=applying.at)
    applying.draft.keep_latest("consent_updated_at", applying.at)
    return "Consent: " + ", ".join(
        f"{CHANNEL_LISTS[channel]} {'on' if channels[channel] else 'off'}" for channel in sorted(channels)
    )


# One message on a channel, at the start of a line ("Email 'Spring Open' opened").
CHANNEL_NAMES = {"email": "Email", "sms": "SMS", "push": "Push notification", "whatsapp": "WhatsApp message"}
# One message mid-sentence ("Reported an SMS as spam") and the channel as a list one is on.
CHANNEL_ONE = {"email": "an email", "sms": "an SMS", "push": "a push notification", "whatsapp": "a WhatsApp message"}
CHANNEL_THE = {
    "email": "the email",
    "sms": "the SMS",
    "push": "the push notification",
    "whatsapp": "the WhatsApp message",
}
CHANNEL_LISTS = {"email": "email", "sms": "SMS", "push": "push notifications", "whatsapp": "WhatsApp messages"}


def _message(
    verb: str, opt_out: bool = False, sentence: Callable[[dict], str] | None = None
) -> Callable[[Applying], str]:
    def handler(applying: Applying) -> str:
        data = applying.data
        if opt_out:
            applying.draft.offer(f"{data['channel']}_opt_in", False, source="messaging", at=applying.at)
        if sentence:
            return sentence(data)
        subject = f" '{data['subject']}'" if data.get("subject") else ""
        extra = ""
        if data.get("url"):
            extra = f" → {data['url']}"
        elif data.get("reason"):
            extra = f" ({data['reason']})"
        return f"{CHANNEL_NAMES[data['channel']]}{subject} {verb}{extra}"

    return handler


def _unsubscribed(data: dict) -> str:
    after = f" (from '{data['subject']}')" if data.get("subject") else ""
    return f"Unsubscribed from {CHANNEL_LISTS[data['channel']]}{after}"


def _complained(data: dict) -> str:
    channel = data["channel"]
    message = f"{CHANNEL_THE[channel]} '{data['subject']}'" if data.get("subject") else CHANNEL_ONE[channel]
    return f"Reported {message} as spam; {CHANNEL_LISTS[channel]} turned off"


PERSON_HANDLERS: dict[str, Callable[[Applying], str | tuple[str, Decimal | None]]] = {
    "member.created": member_created,
    "member.updated": member_updated,
    "membership.renewed": membership_renewed,
    "membership.lapsed": membership_lapsed,
    "membership.tier_changed": membership_tier_changed,
    "membership.suspended": membership_suspended,
    "membership.resigned": membership_resigned,
    "payment.received": payment_received,
    "payment.failed": payment_failed,
    "player.created": player_created,
    "player.updated": player_updated,
    "booking.created": booking_created,
    "booking.cancelled": booking_cancelled,
    "booking.checked_in": booking_checked_in,
    "booking.no_show": booking_no_show,
    "round.completed": round_completed,
    "tournament.entry_created": tournament_entry_created,
    "contact.created": contact_created,
    "contact.updated": contact_updated,
    "consent.updated": consent_updated,
    "message.sent": _message("sent"),
    "message.delivered": _message("delivered"),
    "message.opened": _message("opened"),
    "message.clicked": _message("clicked"),
    "message.bounced": _message("bounced"),
    "message.unsubscribed": _message("unsubscribed", opt_out=True, sentence=_unsubscribed),
    "message.complained": _message("complained", opt_out=True, sentence=_complained),
}


# --- Club-level: tournaments --------------------------------------------------------------

TOURNAMENT_FIELDS = (
    "name",
    "starts_at",
    "ends_at",
    "entry_deadline",
    "capacity",
    "format",
    "handicap_min",
    "handicap_max",
    "description",
)


def tournament_upsert(applying: Applying, *, status: str | None = None) -> Tournament | None:
    """Newest event wins for the whole record; an older update arriving late changes nothing."""
    data = applying.data
    tournament = applying.tournaments.get(data["tournament_id"])
    if tournament is None:
        if "name" not in data or "starts_at" not in data:
            applying.warnings.append(f"tournament {data['tournament_id']} is not known yet; nothing to update")
            return None
        tournament = Tournament(
            club=applying.club,
            external_id=data["tournament_id"],
            last_event_at=applying.at,
            # Entries that arrived before the tournament itself (sources push concurrently).
            entries_count=Activity.objects.for_club(applying.club)
            .filter(type="tournament.entry_created", properties__tournament_id=data["tournament_id"])
            .count(),
        )
        applying.tournaments[data["tournament_id"]] = tournament
    elif applying.at < tournament.last_event_at:
        return tournament
    for name in TOURNAMENT_FIELDS:
        if name in data:
            setattr(tournament, name, data[name])
    if status:
        tournament.status = status
    tournament.last_event_at = max(tournament.last_event_at, applying.at)
    tournament._changed = True
    return tournament


CLUB_HANDLERS: dict[str, Callable[[Applying], object]] = {
    "tournament.created": tournament_upsert,
    "tournament.updated": tournament_upsert,
    "tournament.cancelled": lambda applying: tournament_upsert(applying, status=TournamentStatus.CANCELLED),
    "tournament.results_published": lambda applying: tournament_upsert(applying, status=TournamentStatus.COMPLETED),
}


def ordinal(position: int) -> str:
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    return f"{position}{suffix}"


def result_summary(tournament: Tournament | None, tournament_id: str, result: dict) -> str:
    name = tournament.name if tournament else f"tournament {tournament_id}"
    position = result.get("position")
    score = f" (score {result['score']})" if result.get("score") not in (None, "") else ""
    if isinstance(position, int) and position > 0:
        return f"Finished {ordinal(position)} in {name}{score}"
    return f"Played in {name}{score}"
