"""Segments, Messaging client and sync, campaigns, A/B tests, journeys, calendar feed (SPEC 8–10)."""
