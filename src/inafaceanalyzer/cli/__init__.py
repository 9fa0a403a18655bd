"""The commands: each console script parses into one options object, then runs it."""
