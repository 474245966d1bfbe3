"""A station among several: live updates from the others (``live.py``) and helpers for views
that reload without losing their place (``views.py``)."""
