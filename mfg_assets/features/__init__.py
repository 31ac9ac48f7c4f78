"""Hourly machine features: cleaning, aggregation and their schema (plain polars, no Dagster)."""
