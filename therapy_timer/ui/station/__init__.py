"""The station: this computer as one of the clinic's (issue 14): where its data is (Settings >
This computer), its name, the status bar's "where and whether connected", its clock measured
against the server's, the live view of what the other stations change, and the take-over of a
visit timed on another station."""
