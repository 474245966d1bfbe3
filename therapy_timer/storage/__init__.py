"""The visit store: the only package that knows SQL (sqlite-utils)."""
