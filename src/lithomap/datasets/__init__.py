"""Experiment datasets: date selections, patches, the spatial split, shards and tf.data."""
