"""The Kong broker: Kong's declarative configuration (the routes, from the app's route table,
and a consumer with a key-auth credential per live API key), written by ``waddlebot kong
config`` and pushed to every Kong node's Admin API by ``waddlebot kong sync`` and a job;
docs/deployment.md#kong."""
