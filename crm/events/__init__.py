"""Inbound events from SCL, TeeTime and Messaging: the catalog, validation, storage and application."""
