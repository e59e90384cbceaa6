"""The configuration, in one place: `schema` is what the file may say (every layer
reads it), `loading` finds the file, reads the environment's secrets and validates."""
