"""Pure domain: events, the module contract, permissions and the command parser."""
