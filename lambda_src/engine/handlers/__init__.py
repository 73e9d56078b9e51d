"""Lambda entry points of the payments engine: thin, they parse the event and call the logic."""
