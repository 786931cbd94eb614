"""Annotating corpora too large for one process: shards (shards.py) that workers of a Ray
cluster annotate, each into its own file (ray_engine.py). docs/scaling.md tells how to run it."""

# How many times the Ray engine restarts a worker that died, and gives its shard to it again, before
# the run stops: a shard that kills its worker every time ends the run instead of looping.
WORKER_RESTARTS = 3
