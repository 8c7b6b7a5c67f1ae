"""appwright.sandbox: a local Run402-compatible API over an embedded PostgreSQL.

`app.create_app(SandboxConfig(...))` is the ASGI app; `server.SandboxServer` serves it
on loopback from a thread, `server.serve_forever` in the foreground (`appwright
sandbox`); `postgres.EmbeddedPostgres` is the database it starts itself.
"""
