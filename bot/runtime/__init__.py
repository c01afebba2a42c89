"""What runs the bot between requests: the job worker, outbox delivery, pacing and tokens."""
