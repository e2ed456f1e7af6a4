"""heluo: ingest."""
