"""Allows ``python -m therapy_timer``."""

from therapy_timer.cli import main

raise SystemExit(main())
