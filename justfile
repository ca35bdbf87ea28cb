# Rivvi developer commands. Each wraps a plain cargo command, shown here so nobody needs `just`.

set dotenv-load := false

# Run the server on the embedded defaults (SQLite, local files, the call simulator).
run:
    cargo run

# The whole test suite on SQLite.
test:
    cargo test --workspace

# The whole test suite on the local PostgreSQL.
test-pg:
    RIVVI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --workspace

# Regenerate the TypeScript bindings in bindings/.
gen:
    cargo run -q -p rivvi-server -- bindings

# Apply migrations (DATABASE_URL or the default SQLite file).
migrate action="up":
    cargo run -q -- migrate {{action}}

# Mint a development token: just token org_demo admin
token org="org_demo" role="admin":
    cargo run -q -- dev-token --org {{org}} --role {{role}}

# Formatting and lints as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The crate docs as CI checks them (no broken or private links); `cargo doc --open` to read them.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

# Everything CI runs.
ci:
    .ci/run

# The TypeScript client check: type-check bindings/ and drive a throwaway server with it.
client-test:
    bash tests/client/run.sh

# A minimal Next.js 15 app built against bindings/ (installed as bindings/README.md says).
next-check:
    bash tests/next-app/build.sh

# Benchmarks (release builds): ingestion preview against bare calamine/csv reads (criterion), then
# runs.create of 100k rows into the local PostgreSQL, then two clinics' 10k-row runs through two
# server instances and the simulator (webhook latency, dispatch), then 1,000 websocket subscribers
# to a run over two instances (commit-to-client latency, dispatch with and without subscribers).
# Record the numbers in docs/benchmarks.md.
bench:
    cargo bench -p rivvi-ingestion --bench preview
    RIVVI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --release -p rivvi-tests -- --ignored bench_ --test-threads=1 --nocapture

# RPC load benchmark (issue 10): release build, fresh PostgreSQL database, `rivvi serve`, seeded
# through the API like the Node peer (50 orgs x 40 campaigns), then oha/wrk on campaigns.get,
# campaigns.list (20 rows) and runs.getRows (100 rows) at c=32 and c=1. Needs Node and a prepared
# peer folder (PEER_DIR); see the script's header. Record the numbers in docs/benchmarks.md.
bench-rpc:
    scripts/bench-rpc.sh

# Only the live events benchmark (issue 13): RIVVI_BENCH_SUBSCRIBERS (1000), RIVVI_BENCH_LIVE_ROWS (3000).
bench-live:
    RIVVI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --release -p rivvi-tests -- --ignored bench_live --nocapture

# Only the analytics benchmark (issue 14): 1,000,000 generated calls over 50 organizations and 400
# campaigns in a fresh PostgreSQL database; each analytics procedure at concurrency 1 and 16.
bench-analytics:
    RIVVI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --release -p rivvi-tests -- --ignored bench_analytics --nocapture

# Only the exports benchmark (issue 14): runs of 10k and 100k rows to CSV and xlsx over HTTP, rows/s
# and how far resident memory rose while each streamed.
bench-exports:
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=65536 RIVVI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --release -p rivvi-tests -- --ignored bench_exports --nocapture

# Only the access log's cost on runs.getRows (issue 15).
bench-access-log:
    RIVVI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --release -p rivvi-tests -- --ignored bench_access_log --nocapture
