"""The station: this computer as one of the clinic's (issue 14): where its data is (Settings >
This computer), its name, and the status bar's "where and whether connected"."""
