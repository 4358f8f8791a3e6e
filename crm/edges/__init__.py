"""The shared edge kit: what every app's REST API, GraphQL, pages and admin build on (see docs/architecture.md)."""
