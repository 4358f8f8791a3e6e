"""crm's back office, one module per thing staff manage; importing them registers their admins.
The club-scoped base every app's admin builds on is crm.edges.admin."""

from crm.admin import activity, identity, integrations, profiles, staff

__all__ = ["activity", "identity", "integrations", "profiles", "staff"]
