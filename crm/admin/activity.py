"""What happened, read-only: the activity timeline rows and the audit log."""

from django.contrib import admin

from crm.edges.admin import BigTableAdminMixin, ClubScopedAdmin
from crm.models import (
    Activity,
    AuditLog,
    Capability,
)


@admin.register(Activity)
class ActivityAdmin(BigTableAdminMixin, ClubScopedAdmin):
    is_read_only = True
    list_deferred_fields = ("properties",)
    list_display = ("occurred_at", "profile", "source", "type", "summary")
    list_filter = ("source",)
    list_select_related = ("profile",)
    search_fields = ("=type",)
    search_help_text = "Exact activity type, e.g. round.completed"
    date_hierarchy = None
    fields = ("profile", "occurred_at", "source", "type", "summary", "amount", "properties", "created_at")
    readonly_fields = fields

    # Newest stored first: the primary key serves it, where "-occurred_at" would sort the whole
    # club (no index leads with club and occurred_at, and one would slow ingest). Header clicks
    # would bring that sort back, so the columns don't sort.
    ordering = ("-id",)
    sortable_by = ()


@admin.register(AuditLog)
class AuditLogAdmin(BigTableAdminMixin, ClubScopedAdmin):
    list_deferred_fields = ("details",)
    view_capability = Capability.MANAGE_STAFF
    is_read_only = True
    # `api_key`: a write through the API has no actor; the key it came through says who.
    list_display = ("created_at", "actor", "api_key", "action", "object_type", "object_id", "summary", "ip_address")
    list_filter = ("action",)
    list_select_related = ("actor", "api_key")
    search_fields = ("=object_id", "actor__email")
    fields = (
        "created_at",
        "actor",
        "api_key",
        "action",
        "object_type",
        "object_id",
        "summary",
        "details",
        "ip_address",
    )
    readonly_fields = fields


# --- Staff and clubs ----------------------------------------------------------------------
