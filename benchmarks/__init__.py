"""Benchmarks: the Tokens service measured against its floors, each ratio from alternating runs."""
