"""Fakes of external backends, served over real HTTP on loopback for tests."""
