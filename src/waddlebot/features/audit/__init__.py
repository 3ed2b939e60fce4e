"""The audit log of a community, for its admins: the HTTP API and the portal page."""
