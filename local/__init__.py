"""Running the systems on a laptop: AWS in moto, the same handlers, provider simulators."""
