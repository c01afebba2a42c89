"""Texts and neutral cards that services and the runtime enqueue (no Chinese strings in services)."""
