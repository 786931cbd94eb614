"""Annotating corpora too large for one process: shards (shards.py) that workers of a Ray
cluster annotate, each into its own file (ray_engine.py). docs/scaling.md tells how to run it."""
