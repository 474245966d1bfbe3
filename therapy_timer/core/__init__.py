"""The billing engine: pure Python, no Qt, no SQL, no PDF.

Plain data in, plain data out: code catalog, minutes from timer intervals, unit rules,
modifiers, charges and validation.
"""
