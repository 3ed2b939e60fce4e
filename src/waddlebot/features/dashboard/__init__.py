"""A community's dashboard in the portal: live activity, the last commands, its places."""
