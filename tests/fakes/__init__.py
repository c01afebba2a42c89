"""Fake platform Open API servers on 127.0.0.1 (platforms.md §7)."""
