"""Canonicalization patterns of mnistc dialects, loaded lazily by their ops."""
