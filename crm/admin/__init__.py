"""crm's back office; importing its modules registers their admins."""

from crm.admin import profiles

__all__ = ["profiles"]
