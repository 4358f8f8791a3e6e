"""crm's GraphQL queries (SPEC 14): who is calling, one profile's 360, and the profiles connection.

Every resolver reads the club from `info.context.club`, which the endpoint set from the API key or
the staff session; nothing in a query chooses the club, and another club's ids resolve to null.
Reads need `profiles:read`, which the endpoint checks before any resolver runs.
"""

import graphene

from crm.edges.graph import bounded_argument, invalid_fields, parse_id, profile_extensions_load
from crm.graph.types import ClubType, MeType, ProfileConnection, ProfileOrder, ProfileType, profiles_with_selected
from crm.kernel.pagination import InvalidCursor, keyset_cursor, keyset_page
from crm.models import MembershipStatus
from crm.selectors import STATUS_NONE, ProfileFilters, profile_active_queryset, profile_filtered_queryset

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 50, 100
PROFILE_ORDERINGS = {"-updated_at": ("-updated_at", "-id"), "last_name": ("last_name", "first_name", "id")}


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
        profile = profiles_with_selected(queryset, info, club, many=False).filter(pk=parse_id(id, "id")).first()
        return profile_extensions_load(info, club, [profile] if profile else [])[0] if profile else None

    def resolve_profiles(root, info, order_by, first, after=None, search="", status="", tier="", tag="", **rest):
        club = info.context.club
        first = bounded_argument(first, "first", maximum=PAGE_SIZE_MAX)
        if status and status not in MembershipStatus.values and status != STATUS_NONE:
            allowed = ", ".join([*MembershipStatus.values, STATUS_NONE])
            raise invalid_fields({"status": [f"Must be one of {allowed}."]})
        filters = ProfileFilters(
            search=" ".join(search.split()), status=status, tier=tier, tag=tag, updated_since=rest.get("updated_since")
        )
        queryset = profiles_with_selected(
            profile_filtered_queryset(club=club, filters=filters), info, club, "edges", "node", many=True
        )
        ordering = PROFILE_ORDERINGS[getattr(order_by, "value", order_by)]
        try:
            page = keyset_page(queryset, ordering=ordering, cursor=after, limit=first)
        except InvalidCursor as error:
            raise invalid_fields({"after": [str(error)]}) from error
        profile_extensions_load(info, club, page.rows, "edges", "node")
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
