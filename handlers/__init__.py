"""What the bot does with a normalized Event: one router, one module per feature."""
