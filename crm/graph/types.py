"""crm's GraphQL types (SPEC 14): the profile 360 with its identifiers, tags, notes, timeline and
scores, and who is calling. `queries.py` and `mutations.py` serve them; other apps add Profile
fields through the edge kit's `ProfileExtension` (marketing adds `segments`).

No N+1: a resolver that loads profiles passes its queryset through `profiles_with_selected`, which
prefetches exactly what the query selects under them (identifiers, tags, the latest notes, the
latest activities), so a page of 100 profiles with everything costs a fixed handful of queries.
"""

import graphene
from django.db.models import Prefetch
from graphene_django import DjangoObjectType

from crm.edges.graph import bounded_argument, largest_first, profile_extensions_bind, with_selected_prefetches
from crm.models import Activity, CustomerProfile, Note, ProfileIdentifier, Tag
from crm.selectors import identifiers_in_order
from crm.services.profiles import SOURCE_OWNED_FIELDS, STAFF_EDITABLE_FIELDS

NESTED_LIST_MAX = 50


def notes_latest_first(club):
    return Note.objects.for_club(club).select_related("author").order_by("-is_pinned", "-created_at", "-id")


def activities_newest_first(club):
    return Activity.objects.for_club(club).order_by("-occurred_at", "-id")


# --- Types --------------------------------------------------------------------------------


class IdentifierType(DjangoObjectType):
    class Meta:
        model = ProfileIdentifier
        name = "Identifier"
        description = "A key that points at this person in one system: email, phone, SCL member id, …"
        fields = ("kind", "value", "source", "first_seen_at", "last_seen_at")


class NoteType(DjangoObjectType):
    author = graphene.String(description="Email of the staff member who wrote it; null for an integration.")

    class Meta:
        model = Note
        name = "Note"
        description = "A staff note on a profile; pinned notes first, then newest."
        fields = ("id", "body", "is_pinned", "created_at", "edited_at")

    def resolve_author(note, info):
        return note.author.email if note.author else None


class ActivityType(DjangoObjectType):
    properties = graphene.JSONString(description="Event-specific details, e.g. course and score for a round.")

    class Meta:
        model = Activity
        name = "Activity"
        description = "One line of the timeline: something the person did in SCL, TeeTime, Messaging or the CRM."
        fields = ("id", "occurred_at", "source", "type", "summary", "amount")
        convert_choices_to_enum = False


class ScoresType(graphene.ObjectType):
    class Meta:
        name = "Scores"
        description = "What the intelligence models last computed for this person (null until they have run)."

    engagement = graphene.Int(description="Engagement score 0–100.")
    churn_risk = graphene.Float(description="Probability 0–1 of lapsing in the next 90 days.")
    lifecycle_stage = graphene.String(description="new, active, at_risk, lapsed or won_back.")


class ProfileType(DjangoObjectType):
    identifiers = graphene.List(graphene.NonNull(IdentifierType), required=True)
    tags = graphene.List(graphene.NonNull(graphene.String), required=True, description="Tag names, A–Z.")
    notes = graphene.List(
        graphene.NonNull(NoteType),
        required=True,
        first=graphene.Int(default_value=20, description=f"1–{NESTED_LIST_MAX}."),
        description="The latest notes, pinned first.",
    )
    recent_activities = graphene.List(
        graphene.NonNull(ActivityType),
        required=True,
        first=graphene.Int(default_value=20, description=f"1–{NESTED_LIST_MAX}."),
        description="The newest timeline entries; page further with GET /api/v1/profiles/{id}/timeline.",
    )
    scores = graphene.Field(ScoresType, required=True)

    class Meta:
        model = CustomerProfile
        name = "Profile"
        description = "One person: the joined view of SCL, TeeTime, Messaging and the CRM's own data."
        fields = ("id", *STAFF_EDITABLE_FIELDS, *SOURCE_OWNED_FIELDS, "created_at", "updated_at")
        convert_choices_to_enum = False

    def resolve_identifiers(profile, info):
        return profile.identifiers.all()  # prefetched by the loading resolver when selected

    def resolve_tags(profile, info):
        return [tag.name for tag in profile.tags.all()]  # Tag's own ordering: by name

    def resolve_notes(profile, info, first):
        first = bounded_argument(first, "first", maximum=NESTED_LIST_MAX)
        if hasattr(profile, "latest_notes"):
            return profile.latest_notes[:first]
        return list(notes_latest_first(info.context.club).filter(profile=profile)[:first])

    def resolve_recent_activities(profile, info, first):
        first = bounded_argument(first, "first", maximum=NESTED_LIST_MAX)
        if hasattr(profile, "latest_activities"):
            return profile.latest_activities[:first]
        return list(activities_newest_first(info.context.club).filter(profile=profile)[:first])

    def resolve_scores(profile, info):
        return ScoresType(
            engagement=profile.engagement_score,
            churn_risk=profile.churn_risk,
            lifecycle_stage=profile.lifecycle_stage,
        )


class ProfileConnection(graphene.relay.Connection):
    class Meta:
        node = ProfileType
        description = "A page of profiles; pass `pageInfo.endCursor` as `after` for the next one."


class ProfileOrder(graphene.Enum):
    UPDATED_DESC = "-updated_at"
    LAST_NAME = "last_name"

    @property
    def description(self):
        return {
            ProfileOrder.UPDATED_DESC: "Most recently changed first (for syncing).",
            ProfileOrder.LAST_NAME: "By last name, then first name.",
        }[self]


class ClubType(graphene.ObjectType):
    class Meta:
        name = "Club"

    slug = graphene.String(required=True)
    name = graphene.String(required=True)
    timezone = graphene.String(required=True)


class MeType(graphene.ObjectType):
    class Meta:
        name = "Me"
        description = "Who is calling: the club, the kind of credential and its scopes."

    club = graphene.Field(ClubType, required=True)
    auth = graphene.String(required=True, description="api_key or session.")
    key_prefix = graphene.String(description="The API key's prefix (null for a staff session).")
    scopes = graphene.List(graphene.NonNull(graphene.String), required=True)


# Other apps' Profile fields (marketing's `segments`) join this type, registered before the schema is built.
profile_extensions_bind(ProfileType)


def profiles_with_selected(queryset, info, club, *path: str, many: bool):
    """`queryset` prefetching what the query selects under the profiles at `path`.

    For one profile, its latest notes and activities are left to their resolvers: a plain
    LIMIT on the timeline index is cheaper than the per-profile window a sliced prefetch uses.
    """

    def latest(field_nodes, field_name: str) -> int:
        return largest_first(info, field_nodes, type_name="Profile", field_name=field_name, maximum=NESTED_LIST_MAX)

    prefetches = {
        "identifiers": lambda _nodes: Prefetch("identifiers", queryset=identifiers_in_order(club=club)),
        "tags": lambda _nodes: Prefetch("tags", queryset=Tag.objects.for_club(club).only("id", "name")),
    }
    if many:
        prefetches["notes"] = lambda nodes: Prefetch(
            "notes", queryset=notes_latest_first(club)[: latest(nodes, "notes")], to_attr="latest_notes"
        )
        prefetches["recentActivities"] = lambda nodes: Prefetch(
            "activities",
            queryset=activities_newest_first(club)[: latest(nodes, "recentActivities")],
            to_attr="latest_activities",
        )
    return with_selected_prefetches(queryset, info, prefetches, *path)
