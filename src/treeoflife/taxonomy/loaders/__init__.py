"""One loader per reference file format (docs/sources.md describes them).

Every loader streams its file once, keeps only rows the labels need, returns plain
dicts, and raises TolError naming the file when its header is not the expected format.
A missing file is the caller's business: it means that reference is absent.
"""
