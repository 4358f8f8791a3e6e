"""Marketing's tables: segments (SPEC 8) and the send ledger every message to Messaging goes through."""

from marketing.models.segments import (
    MessagingListEntry,
    Segment,
    SegmentChange,
    SegmentChangeKind,
    SegmentKind,
    SegmentMember,
    SyncStatus,
)
from marketing.models.sends import (
    MessageContent,
    MessageSend,
    SendChannel,
    SendDispatch,
    SendDispatchStatus,
    SendPolicy,
    SendSkipReason,
    SendSourceKind,
    SendStatus,
    Suppression,
    SuppressionReason,
)

__all__ = [
    "MessageContent",
    "MessageSend",
    "MessagingListEntry",
    "Segment",
    "SegmentChange",
    "SegmentChangeKind",
    "SegmentKind",
    "SegmentMember",
    "SendChannel",
    "SendDispatch",
    "SendDispatchStatus",
    "SendPolicy",
    "SendSkipReason",
    "SendSourceKind",
    "SendStatus",
    "Suppression",
    "SuppressionReason",
    "SyncStatus",
]
