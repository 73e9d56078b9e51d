"""PostgreSQL access for the engine: schema migrations (and, later, one DAL class per store)."""
