"""The store service: named lists of JSON items per namespace, durable in SQLite, queryable over HTTP."""
