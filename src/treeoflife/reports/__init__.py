"""Reports over a build: check-taxa (``check_taxa``, ``tol check-taxa``) and the report stage's modules."""
