#!/usr/bin/env bash
# Lints the theme app extension with the platform's theme checker
# (config `theme-app-extension`); fails on any error-severity offense.
set -euo pipefail
cd "$(dirname "$0")/../extensions"
if [ ! -d node_modules/@shopify/theme-check-node ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node theme-check.mjs beam-theme
