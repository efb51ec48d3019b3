"""What the tests and the benchmarks both drive rulesync with: a fresh user's environment, real
git repositories and libraries, the real `rulesync` command, and the real service as a
subprocess. Plain functions and classes, no pytest: `bench/` imports this, never `tests/`."""
