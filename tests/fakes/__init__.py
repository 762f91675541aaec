"""Local stand-ins for the outside world (HTTP servers speaking real protocols)."""
