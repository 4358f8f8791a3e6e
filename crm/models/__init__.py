from crm.models.activity import Activity, ActivitySource
from crm.models.api import ApiKey, ApiScope
from crm.models.audit import AuditAction, AuditLog
from crm.models.clubs import Capability, Club, ClubMembership, Role, User
from crm.models.events import (
    INBOUND_EVENT_FIELDS,
    EventSigningSecret,
    InboundEvent,
    InboundEventStatus,
    Tournament,
    TournamentStatus,
)
from crm.models.identity import MergeReason, MergeRecord, MergeSuggestion, SuggestionStatus
from crm.models.profiles import (
    CustomerProfile,
    Gender,
    LifecycleStage,
    MembershipStatus,
    Note,
    ProfileIdentifier,
    ProfileTag,
    Tag,
)
from crm.models.system import SchedulerHeartbeat

__all__ = [
    "INBOUND_EVENT_FIELDS",
    "Activity",
    "ActivitySource",
    "ApiKey",
    "ApiScope",
    "AuditAction",
    "AuditLog",
    "Capability",
    "Club",
    "EventSigningSecret",
    "InboundEvent",
    "InboundEventStatus",
    "Tournament",
    "TournamentStatus",
    "ClubMembership",
    "CustomerProfile",
    "Gender",
    "LifecycleStage",
    "MergeReason",
    "MergeRecord",
    "MergeSuggestion",
    "SuggestionStatus",
    "MembershipStatus",
    "Note",
    "ProfileIdentifier",
    "ProfileTag",
    "Role",
    "SchedulerHeartbeat",
    "Tag",
    "User",
]
