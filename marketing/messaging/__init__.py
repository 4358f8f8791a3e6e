"""The Messaging service boundary (SPEC 13 outbound): one client module, typed results, specific errors."""
