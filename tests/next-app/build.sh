#!/usr/bin/env bash
# A minimal Next.js 15 app built against bindings/ exactly as bindings/README.md tells an app to
# take it (`npm install --install-links`, one copy of @rspc/client, `transpilePackages`): `next
# build` compiles and type-checks the README's examples (app/page.tsx). Pinned versions from the
# committed package-lock.json; `--prefer-offline` reuses the npm cache.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --install-links --prefer-offline --no-audit --no-fund
copies=$(find node_modules -path '*/@rspc/client/package.json' | wc -l)
if [ "$copies" != 1 ]; then
  echo "expected one copy of @rspc/client in the app, found $copies" >&2
  exit 1
fi
NEXT_TELEMETRY_DISABLED=1 npx next build
