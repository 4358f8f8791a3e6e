"""The platform kernel: the ground floor every app builds on (see docs/architecture.md)."""
