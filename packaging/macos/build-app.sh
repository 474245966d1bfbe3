#!/usr/bin/env bash
# macOS app bundle and disk image. Run on a Mac with Python 3.11 (cannot run on the Linux CI).
# Produces dist/Therapy Timer.app and dist/TherapyTimer.dmg. Signing and notarisation need the
# clinic vendor's Apple Developer ID: set SIGN_ID to sign, or leave it empty for a local build.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3.11 -m venv .venv && .venv/bin/pip install -e '.[dev]'
.venv/bin/pyinstaller --noconfirm --windowed --name "Therapy Timer" \
  --add-data "resources:resources" \
  --collect-data simple_icd_10_cm \
  --collect-submodules therapy_timer \
  --osx-bundle-identifier org.therapytimer.app \
  packaging/launch.py
if [ -n "${SIGN_ID:-}" ]; then
  codesign --deep --force --options runtime --sign "$SIGN_ID" "dist/Therapy Timer.app"
fi
hdiutil create -volname "Therapy Timer" -srcfolder "dist/Therapy Timer.app" -ov -format UDZO \
  dist/TherapyTimer.dmg
echo "built dist/TherapyTimer.dmg"
