"""Benchmarks: `python -m bench NAME [options]` runs `bench.NAME.main(argv)`.

They print figures and verdicts; they never assert.
"""
