"""treeoflife: build TreeOfLife-10M-format image-text datasets from raw biodiversity collections."""

__version__ = "0.1.0"
