"""PDF documents (reportlab only): superbills and day sheets rendered from core data."""
