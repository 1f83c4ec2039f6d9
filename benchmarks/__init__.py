"""Benchmarks of credly-contract: how fast a certification runs, how much it finds per second and how it
scales. Run them with `python -m benchmarks` (see benchmarks/__main__.py); nothing here is a CI test."""
