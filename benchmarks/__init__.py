"""Benchmarks behind `switchboard bench`: real processes under a bounded loopback load."""
