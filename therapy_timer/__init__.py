"""Therapy Timer: intervention timers with live billable units for outpatient therapy clinics."""

__version__ = "0.1.0"
