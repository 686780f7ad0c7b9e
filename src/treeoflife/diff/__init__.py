"""``tol diff OLD NEW``: what changed between two builds, image by image (see ``compare``)."""
