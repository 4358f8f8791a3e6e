"""marketing's GraphQL (SPEC 14): segments (`types.py`, `queries.py`) and the segments a profile is
in on crm's Profile 360 (`profile_segments.py`). config/graphql_schema.py joins them into the schema."""
