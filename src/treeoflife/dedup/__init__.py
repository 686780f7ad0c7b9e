"""Duplicates: perceptual hashes of every image, near-duplicate clusters, eval-set matches.

- :mod:`.phash`: the 64-bit perceptual hash the image pass computes from pixels it already
  decoded (``encoded.phash``).
- :mod:`.index`: near pairs among millions of hashes without comparing all pairs
  (block-permutation tables), and union-find over numpy arrays.
- :mod:`.evalsets`: the images of ``[dedup] eval_sets``, hashed once and cached.

The stages are ``stages/cluster.py`` (clusters, before the split, so a cluster is split as
one) and ``stages/dedup.py`` (after resolve: one sample per cluster, eval matches dropped,
``reports/duplicates.parquet``).
"""
