"""Signing: algorithms (``crypto``), the key hierarchy (``keys``), the card register, the record
signer and the terminals' upload signer."""
