"""Application services on top of the database: directory, API keys, audit log."""
