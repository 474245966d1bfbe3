"""Entry script for the frozen (PyInstaller) app."""

from therapy_timer.cli import main

raise SystemExit(main())
