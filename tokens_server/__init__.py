"""Tokens: a JSON service that stores API tokens, scopes and users in MongoDB."""

__version__ = "0.1.0"
