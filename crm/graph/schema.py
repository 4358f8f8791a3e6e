"""GraphQL for integrations (SPEC 14): the profile 360, a profiles connection, notes and tags.

Every resolver reads the club from `info.context.club`, which the view set from the API key or
the staff session; nothing in a query chooses the club, and another club's ids resolve to null.
Reads need `profiles:read` (checked by the view), mutations `profiles:write` (checked here).
Other pillars add their own queries and Profile fields; `config/graphql_schema.py` builds the schema.

No N+1: a resolver that loads profiles looks at what the query selects under them and prefetches
exactly that (identifiers, tags, the latest notes, the latest activities), so a page of 100
profiles with everything costs a fixed handful of queries, whatever the page size.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import graphene
from django.db.models import Prefetch
from graphene_django import DjangoObjectType
from graphql import FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode
from graphql.execution.values import get_argument_values

from crm.api.collaboration import NoteSerializer, TagChangeSerializer
from crm.kernel.pagination import InvalidCursor, keyset_cursor, keyset_page
from crm.models import (
    Activity,
    ApiScope,
    CustomerProfile,
    MembershipStatus,
    Note,
    ProfileIdentifier,
    Tag,
)
from crm.selectors import (
    STATUS_NONE,
    ProfileFilters,
    identifiers_in_order,
    profile_active_queryset,
    profile_filtered_queryset,
)
from crm.services.notes import note_add, note_delete, note_edit
from crm.services.profiles import SOURCE_OWNED_FIELDS, STAFF_EDITABLE_FIELDS
from crm.services.tags import profiles_tag, profiles_untag, tag_get_or_create

NESTED_LIST_MAX = 50
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 50, 100


def graph_error(code: str, message: str, details: dict | None = None) -> GraphQLError:
    """The REST error body's code and details, in GraphQL's `extensions`."""
    return GraphQLError(message, extensions={"code": code, "details": details or {}})


def require_scope(info, scope: str) -> None:
    if scope not in info.context.api_scopes:
        raise graph_error("permission_denied", f"This needs the '{scope}' scope.")


def parse_id(value, argument: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise graph_error(
            "invalid", "The request is not valid.", {"fields": {argument: ["A numeric id is required."]}}
        ) from None


def _bounded(value: int, argument: str, *, maximum: int) -> int:
    if not 1 <= value <= maximum:
        raise graph_error(
            "invalid", "The request is not valid.", {"fields": {argument: [f"Must be between 1 and {maximum}."]}}
        )
    return value


def invalid_fields(errors: dict) -> GraphQLError:
    fields = {name: [str(message) for message in messages] for name, messages in errors.items()}
    return graph_error("invalid", "The request is not valid.", {"fields": fields})


# --- What the query selects ---------------------------------------------------------------


def _child_fields(node, info):
    selection_set = getattr(node, "selection_set", None)
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _child_fields(selection, info)
        elif isinstance(selection, FragmentSpreadNode):
            yield from _child_fields(info.fragments[selection.name.value], info)


def _selected(info, *path: str) -> dict[str, list[FieldNode]]:
    """The fields the query asks for below `path` of the current field (fragments expanded)."""
    nodes = list(info.field_nodes)
    for name in path:
        nodes = [child for node in nodes for child in _child_fields(node, info) if child.name.value == name]
    selected: dict[str, list[FieldNode]] = {}
    for node in nodes:
        for child in _child_fields(node, info):
            selected.setdefault(child.name.value, []).append(child)
    return selected


def _largest_first(info, field_nodes: list[FieldNode], field_name: str) -> int:
    """The largest `first` any selection of a nested list asks for (aliases may ask twice)."""
    definition = info.schema.get_type("Profile").fields[field_name]
    sizes = [get_argument_values(definition, node, info.variable_values).get("first", 1) for node in field_nodes]
    return min(max(sizes), NESTED_LIST_MAX)


def _latest_notes(club):
    return Note.objects.for_club(club).select_related("author").order_by("-is_pinned", "-created_at", "-id")


def _latest_activities(club):
    return Activity.objects.for_club(club).order_by("-occurred_at", "-id")


def _with_selected_relations(queryset, info, club, *path: str, many: bool):
    """Prefetch what the query selects under the profiles at `path`.

    For one profile, its latest notes and activities are left to their resolvers: a plain
    LIMIT on the timeline index is cheaper than the per-profile window a sliced prefetch uses.
    """
    selected = _selected(info, *path)
    if "identifiers" in selected:
        queryset = queryset.prefetch_related(Prefetch("identifiers", queryset=identifiers_in_order(club=club)))
    if "tags" in selected:
        queryset = queryset.prefetch_related(Prefetch("tags", queryset=Tag.objects.for_club(club).only("id", "name")))
    if many and "notes" in selected:
        latest = _largest_first(info, selected["notes"], "notes")
        queryset = queryset.prefetch_related(
            Prefetch("notes", queryset=_latest_notes(club)[:latest], to_attr="latest_notes")
        )
    if many and "recentActivities" in selected:
        latest = _largest_first(info, selected["recentActivities"], "recentActivities")
        queryset = queryset.prefetch_related(
            Prefetch("activities", queryset=_latest_activities(club)[:latest], to_attr="latest_activities")
        )
    return queryset


# --- Fields other pillars add to Profile --------------------------------------------------


@dataclass(frozen=True)
class ProfileExtension:
    """A field another pillar adds to Profile (marketing adds `segments`) without crm importing it.

    `load(club, profiles)` fills the field for a whole page of profiles in one query, so a
    connection of 100 profiles costs what one does; its resolver reads what was loaded."""

    name: str  # the GraphQL field name, camelCase
    field: graphene.Field
    load: Callable[[object, list], None]


PROFILE_EXTENSIONS: dict[str, ProfileExtension] = {}


def profile_extension_register(extension: ProfileExtension) -> None:
    """Call before the schema is built (config/graphql_schema.py builds it after every pillar loads)."""
    PROFILE_EXTENSIONS[extension.name] = extension
    ProfileType._meta.fields[extension.name] = extension.field


def _load_extensions(info, club, profiles: list, *path: str) -> list:
    if profiles and PROFILE_EXTENSIONS:
        selected = _selected(info, *path)
        for name, extension in PROFILE_EXTENSIONS.items():
            if name in selected:
                extension.load(club, profiles)
    return profiles


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
        first = _bounded(first, "first", maximum=NESTED_LIST_MAX)
        if hasattr(profile, "latest_notes"):
            return profile.latest_notes[:first]
        return list(_latest_notes(info.context.club).filter(profile=profile)[:first])

    def resolve_recent_activities(profile, info, first):
        first = _bounded(first, "first", maximum=NESTED_LIST_MAX)
        if hasattr(profile, "latest_activities"):
            return profile.latest_activities[:first]
        return list(_latest_activities(info.context.club).filter(profile=profile)[:first])

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


PROFILE_ORDERINGS = {"-updated_at": ("-updated_at", "-id"), "last_name": ("last_name", "first_name", "id")}


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


class Query(graphene.ObjectType):
    me = graphene.Field(MeType, required=True)
    profile = graphene.Field(
        ProfileType,
        id=graphene.ID(required=True),
        description="The 360 view of one profile; null when this club has no live profile with that id.",
    )
    profiles = graphene.Field(
        ProfileConnection,
        required=True,
        search=graphene.String(description="Name words (by prefix), email, phone or member number."),
        status=graphene.String(description="Membership status, or `none` for profiles without one."),
        tier=graphene.String(description="Membership tier, exactly."),
        tag=graphene.String(description="Tag name, exactly."),
        updated_since=graphene.DateTime(description="Only profiles changed since (for syncing)."),
        order_by=ProfileOrder(default_value=ProfileOrder.UPDATED_DESC),
        first=graphene.Int(default_value=PAGE_SIZE_DEFAULT, description=f"1–{PAGE_SIZE_MAX}."),
        after=graphene.String(description="`pageInfo.endCursor` of the previous page."),
        description="The club's live profiles, filtered and keyset-paginated (stable while rows change).",
    )

    def resolve_me(root, info):
        request = info.context
        key = request.api_key
        return MeType(
            club=ClubType(slug=request.club.slug, name=request.club.name, timezone=request.club.timezone),
            auth="api_key" if key else "session",
            key_prefix=key.prefix if key else None,
            scopes=sorted(request.api_scopes),
        )

    def resolve_profile(root, info, id):
        club = info.context.club
        queryset = profile_active_queryset(club=club)
        profile = _with_selected_relations(queryset, info, club, many=False).filter(pk=parse_id(id, "id")).first()
        return _load_extensions(info, club, [profile] if profile else [])[0] if profile else None

    def resolve_profiles(root, info, order_by, first, after=None, search="", status="", tier="", tag="", **rest):
        club = info.context.club
        first = _bounded(first, "first", maximum=PAGE_SIZE_MAX)
        if status and status not in MembershipStatus.values and status != STATUS_NONE:
            allowed = ", ".join([*MembershipStatus.values, STATUS_NONE])
            raise invalid_fields({"status": [f"Must be one of {allowed}."]})
        filters = replace(
            ProfileFilters(search=" ".join(search.split()), status=status),
            tier=tier,
            tag=tag,
            updated_since=rest.get("updated_since"),
        )
        queryset = _with_selected_relations(
            profile_filtered_queryset(club=club, filters=filters), info, club, "edges", "node", many=True
        )
        ordering = PROFILE_ORDERINGS[getattr(order_by, "value", order_by)]
        try:
            page = keyset_page(queryset, ordering=ordering, cursor=after, limit=first)
        except InvalidCursor as error:
            raise invalid_fields({"after": [str(error)]}) from error
        _load_extensions(info, club, page.rows, "edges", "node")
        edges = [
            ProfileConnection.Edge(node=profile, cursor=keyset_cursor(profile, ordering=ordering))
            for profile in page.rows
        ]
        page_info = graphene.relay.PageInfo(
            has_next_page=page.next_cursor is not None,
            has_previous_page=bool(after),
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return ProfileConnection(edges=edges, page_info=page_info)


# --- Mutations ----------------------------------------------------------------------------


def _actor(info):
    return info.context.actor  # the staff member or the API key, set by the GraphQL view


def _profile_in_club(info, profile_id) -> CustomerProfile:
    pk = parse_id(profile_id, "profileId")
    profile = CustomerProfile.objects.for_club(info.context.club).filter(pk=pk).first()
    if profile is None:
        raise graph_error("not_found", "No such profile in this club.")
    return profile


def _note_in_club(info, note_id) -> Note:
    note = Note.objects.for_club(info.context.club).filter(pk=parse_id(note_id, "id")).first()
    if note is None:
        raise graph_error("not_found", "No such note in this club.")
    return note


def _validated(serializer_class, data: dict, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    if not serializer.is_valid():
        raise invalid_fields(serializer.errors)
    return serializer.validated_data


class AddNote(graphene.Mutation):
    class Meta:
        description = "Add a note to a profile (needs profiles:write)."

    class Arguments:
        profile_id = graphene.ID(required=True)
        body = graphene.String(required=True)
        is_pinned = graphene.Boolean(default_value=False)

    note = graphene.Field(NoteType, required=True)

    def mutate(root, info, profile_id, body, is_pinned):
        require_scope(info, ApiScope.PROFILES_WRITE)
        profile = _profile_in_club(info, profile_id)
        data = _validated(NoteSerializer, {"body": body, "is_pinned": is_pinned})
        note = note_add(club=info.context.club, profile=profile, actor=_actor(info), **data)
        return AddNote(note=note)


class EditNote(graphene.Mutation):
    class Meta:
        description = "Change a note's text or pin (needs profiles:write)."

    class Arguments:
        id = graphene.ID(required=True)
        body = graphene.String()
        is_pinned = graphene.Boolean()

    note = graphene.Field(NoteType, required=True)

    def mutate(root, info, id, **changes):
        require_scope(info, ApiScope.PROFILES_WRITE)
        note = _note_in_club(info, id)
        data = _validated(NoteSerializer, changes, partial=True)
        note = note_edit(club=info.context.club, note=note, actor=_actor(info), **data)
        return EditNote(note=note)


class DeleteNote(graphene.Mutation):
    class Meta:
        description = "Delete a note (needs profiles:write); the audit log keeps its text."

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID(required=True)

    def mutate(root, info, id):
        require_scope(info, ApiScope.PROFILES_WRITE)
        note = _note_in_club(info, id)
        deleted_id = note.pk
        note_delete(club=info.context.club, note=note, actor=_actor(info))
        return DeleteNote(deleted_id=deleted_id)


class TagArguments:
    tag = graphene.String(required=True, description="Tag name; created if the club has none by that name.")
    profile_ids = graphene.List(graphene.NonNull(graphene.ID), required=True, description="Up to 10,000.")


def _change_tags(info, *, tag: str, profile_ids, remove: bool) -> int:
    require_scope(info, ApiScope.PROFILES_WRITE)
    data = _validated(TagChangeSerializer, {"tag": tag, "profile_ids": profile_ids})
    club = info.context.club
    tag_row = tag_get_or_create(club=club, name=data["tag"])
    change = profiles_untag if remove else profiles_tag
    return change(club=club, profile_ids=data["profile_ids"], tag=tag_row, actor=_actor(info))


class TagProfiles(graphene.Mutation):
    class Meta:
        description = "Tag many profiles at once (needs profiles:write); ids of other clubs are ignored."

    Arguments = TagArguments
    changed = graphene.Int(required=True, description="Profiles that did not have the tag before.")

    def mutate(root, info, tag, profile_ids):
        return TagProfiles(changed=_change_tags(info, tag=tag, profile_ids=profile_ids, remove=False))


class UntagProfiles(graphene.Mutation):
    class Meta:
        description = "Remove a tag from many profiles at once (needs profiles:write)."

    Arguments = TagArguments
    changed = graphene.Int(required=True, description="Profiles that had the tag.")

    def mutate(root, info, tag, profile_ids):
        return UntagProfiles(changed=_change_tags(info, tag=tag, profile_ids=profile_ids, remove=True))


class Mutation(graphene.ObjectType):
    add_note = AddNote.Field()
    edit_note = EditNote.Field()
    delete_note = DeleteNote.Field()
    tag_profiles = TagProfiles.Field()
    untag_profiles = UntagProfiles.Field()

