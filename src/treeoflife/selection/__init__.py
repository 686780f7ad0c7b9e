"""Shaping the dataset: which resolved images it keeps (``[select]``) and taxon names.

``terms`` reads the taxon names of ``[select]`` and ``[split] holdout_taxa`` and finds them
in a build's own ``taxa``; ``rules`` turns the ``[select]`` rules into SQL over the build
database, one reason code a rule (see :mod:`treeoflife.rejects`).
"""
