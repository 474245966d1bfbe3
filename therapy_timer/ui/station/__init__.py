"""The station of a clinic: what makes this computer one of several (issue 14)."""
