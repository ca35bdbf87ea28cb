#!/usr/bin/env bash
# The TypeScript client check: installs the pinned npm packages, type-checks bindings/ and this
# test, type-checks the Retell wire contract against retell-sdk (`rivvi retell-contract`), starts
# a throwaway server (own data dir, free port) and drives it with run.ts.
# Quiet on success apart from run.ts's per-check lines; prints the captured output of a failed step.
set -euo pipefail
cd "$(dirname "$0")/../.."

scratch=$(mktemp -d)
server_pid=
cleanup() {
  # Always stop the server we started (by its pid) and drop its data dir.
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# Runs a command with its output captured; shows the output only if it fails.
quiet() {
  if ! "$@" >"$scratch/step.log" 2>&1; then
    echo "client test: failed: $*" >&2
    cat "$scratch/step.log" >&2
    exit 1
  fi
}

# --loglevel=error also hides warnings about the machine's npm config that are not ours to fix.
export npm_config_loglevel=error npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
quiet npm ci --prefix bindings
quiet npm ci --prefix tests/client

# The local binaries, by path: from the repo root a bare `npx tsc` would not find them.
quiet bindings/node_modules/.bin/tsc -p bindings/tsconfig.json
quiet tests/client/node_modules/.bin/tsc -p tests/client/tsconfig.json

quiet cargo build -q -p rivvi-server
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"  # absolute: the server runs elsewhere
rivvi="$target_dir/debug/rivvi"

# Every body Rivvi sends to Retell and every body its simulator answers, against retell-sdk's own
# types (`satisfies`): a field Retell does not know, or a value outside its unions, fails here.
mkdir -p tests/client/generated
"$rivvi" retell-contract >tests/client/generated/retell-contract.ts
quiet tests/client/node_modules/.bin/tsc -p tests/client/tsconfig.contract.json

# A development-mode server of our own: no Clerk or production settings from the caller's
# environment, and run from the scratch dir so no developer's .env is picked up. The database,
# uploads and dev signing key all default to places under RIVVI_DATA_DIR. Port 0: the OS picks a
# free port (no probe-then-bind race) and the server prints the address it got.
unset RIVVI_ENV DATABASE_URL STORAGE_URL RIVVI_PUBLIC_URL RIVVI_MIGRATE_ON_START RIVVI_DATA_KEY RIVVI_INDEX_KEY \
  CLERK_JWT_KEY CLERK_JWKS_URL CLERK_AUTHORIZED_PARTIES CLERK_WEBHOOK_SIGNING_SECRET RETELL_API_KEY RETELL_BASE_URL \
  LLM_BASE_URL LLM_API_KEY LLM_MODEL
export RIVVI_DATA_DIR="$scratch/data" RIVVI_LISTEN=127.0.0.1:0 RUST_LOG=warn
mkdir -p "$RIVVI_DATA_DIR"
(cd "$scratch" && exec "$rivvi" serve) >"$scratch/server.log" 2>&1 &
server_pid=$!

# Wait (up to ~30 s: migrations run first) for the printed address to answer /healthz.
url=
for _ in $(seq 1 300); do
  kill -0 "$server_pid" 2>/dev/null || break  # it exited: no point waiting
  printed=$(grep -o 'running on http://[0-9.:]*' "$scratch/server.log" | head -1 | sed 's/^running on //' || true)
  if [ -n "$printed" ] && curl -fs -o /dev/null "$printed/healthz"; then url=$printed; break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "client test: the server did not become healthy; its output:" >&2
  cat "$scratch/server.log" >&2
  exit 1
fi

# Same RIVVI_DATA_DIR as the server, so the token is signed with the dev key it trusts.
token=$(cd "$scratch" && "$rivvi" dev-token --org org_client_test --role admin)
# An operator (super admin): a member of the development operator organization.
operator_token=$(cd "$scratch" && "$rivvi" dev-token --org org_rivvi_operator --role admin --user user_client_operator)

if ! RIVVI_URL="$url" RIVVI_TOKEN="$token" RIVVI_OPERATOR_TOKEN="$operator_token" \
  tests/client/node_modules/.bin/tsx tests/client/run.ts; then
  echo "client test: failed; the server's log (RUST_LOG=warn) follows" >&2
  cat "$scratch/server.log" >&2
  exit 1
fi
