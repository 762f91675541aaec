"""Outbound network safety: address checks and redaction for user-configured URLs."""
