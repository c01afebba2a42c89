"""Business rules. Functions take the Session first, flush but never commit."""
