"""The reliability suite: crash consistency, concurrency, hostile repositories, fuzzing,
git torture and storms. Figures for docs/reliability.md come from `tests/reliability/report.py`.
"""
