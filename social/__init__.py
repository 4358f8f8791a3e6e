"""Social connections, publishing, engagement sync and event promotion (SPEC 11–12)."""
