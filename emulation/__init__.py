"""Source side of the pipeline: synthetic source tables, payload builders, API posters and the emulator CLI."""
