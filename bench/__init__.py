"""Benchmarks of pulumi-diy against the least possible work (the floor) and Pulumi's own algorithms.

Run ``python -m bench --help`` from the repository root; see bench/README.md.
"""
