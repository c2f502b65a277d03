#!/usr/bin/env bash
# Builds (esbuild), lints (eslint) and unit-tests (vitest) the checkout and customer-account
# UI extensions, printing each bundle's size; installs from the lockfile when needed.
set -euo pipefail
export NO_COLOR=1
cd "$(dirname "$0")/../extensions"
if [ ! -d node_modules/vitest ] || [ ! -d node_modules/@shopify/ui-extensions ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx --no-install eslint checkout-rewards customer-account-rewards ./*.mjs
node build.mjs
npx --no-install vitest run --reporter=default
