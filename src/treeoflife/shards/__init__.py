"""Webdataset shards: plan (which sample goes where), write (phase A encode, phase B
assemble), verify, catalog. Stage modules in ``treeoflife.stages`` drive these; everything
here that runs in a worker is a pure function of its task."""
