"""crm's GraphQL mutations (SPEC 14): notes and tags, each one service call, needing `profiles:write`.

A service's refusal (a DomainError) is not caught here: the endpoint's error formatter
translates it. Ids of another club resolve to `not_found`, as in REST.
"""

import graphene

from crm.api.collaboration import NoteSerializer, TagChangeSerializer
from crm.edges.graph import graph_error, invalid_fields, parse_id, require_scope
from crm.graph.types import NoteType
from crm.models import ApiScope, CustomerProfile, Note
from crm.services.notes import note_add, note_delete, note_edit
from crm.services.tags import profiles_tag_named


def _actor(info):
    return info.context.actor  # the staff member or the API key, set by the GraphQL view


def _in_club(info, model, value, *, argument: str, noun: str):
    """The club's row with that id: another club's (or no) row is `not_found`, as a 404 in REST."""
    row = model.objects.for_club(info.context.club).filter(pk=parse_id(value, argument)).first()
    if row is None:
        raise graph_error("not_found", f"No such {noun} in this club.")
    return row


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
        profile = _in_club(info, CustomerProfile, profile_id, argument="profileId", noun="profile")
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
        note = _in_club(info, Note, id, argument="id", noun="note")
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
        note = _in_club(info, Note, id, argument="id", noun="note")
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
    actor = _actor(info)
    _, changed = profiles_tag_named(
        club=club, actor=actor, name=data["tag"], profile_ids=data["profile_ids"], remove=remove
    )
    return changed


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
