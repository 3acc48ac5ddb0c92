"""Benchmarks of the bridge: each module is one command, ``python -m bench.<name>``.

They print a markdown table and write JSON to ``bench/results/`` (git-ignored). Timing
lives here and never in the test suite (STYLE.md, habit 8).
"""
