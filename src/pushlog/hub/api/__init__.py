"""HTTP API: one module per resource, each exposing ``routes`` (a list of Starlette routes)."""
