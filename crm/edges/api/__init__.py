"""The API half of the edge kit: who is calling and with which scopes (auth), the one error body
and the domain-error table (errors), the OpenAPI parts every app's endpoints share (schema)."""
