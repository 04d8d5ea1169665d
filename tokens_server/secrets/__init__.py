"""Sealing GUIDs and keeping the keys that seal them: ``crypto`` (seal, hash, prefix) and
``keyring`` (which secret key sealed what, and where the keys are kept)."""
