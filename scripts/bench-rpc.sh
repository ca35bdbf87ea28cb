#!/usr/bin/env bash
# RPC load benchmark of the rivvi server (issue 10, item 5). Usage: scripts/bench-rpc.sh (just bench-rpc)
#
# What it does, in order:
#   1. builds `rivvi` in release (cargo; honours CARGO_TARGET_DIR; SKIP_BUILD=1 reuses the binary);
#   2. creates a fresh PostgreSQL database rivvi_bench_<pid> on PG_URL (default
#      postgres://postgres@127.0.0.1:5432, trust auth) and a throwaway RIVVI_DATA_DIR;
#   3. starts `rivvi serve` on a free 127.0.0.1 port against it (RIVVI_ENV=development, so the dev
#      data/index keys and the call simulator are used), with CLERK_JWT_KEY = the peer's
#      keys/public.pem, CLERK_AUTHORIZED_PARTIES=http://localhost:3000 and
#      RIVVI_OPERATOR_ORG=org_bench_operator, with the rate limits and the metrics listener off
#      (the load is one organization as fast as the server answers, far past any production limit);
#   4. seeds it through its own API exactly like the Node peer: the peer's scripts/seed-rivvi.mjs
#      (50 orgs x 40 campaigns, ~3 KB prompts, 10 variables, 5 analysis fields), run from a temp
#      copy with one line adapted to the paged campaigns.list ({campaigns,total,hasMore});
#   5. unless SKIP_ROWS=1: uploads a CSV of ROWS_N (200) patients into org_peer_0001 and creates a
#      run from it, for runs.getRows (100 rows);
#   6. measures with oha (if on PATH) else wrk, with a token for org_peer_0001 (admin) minted by the
#      peer's scripts/mint-token.mjs: campaigns.get, campaigns.list ({"limit":20}) and
#      runs.getRows ({"limit":100}) and, if the simulator placed calls within CALLS_WAIT s of
#      runs.start (it places none outside the calling hours of the org's time zone; the run is
#      cancelled before the load), calls.list ({"limit":100}); each at each of CONCURRENCIES
#      ("32 1"), DURATION s (20) each, after a WARMUP s (3) warm-up at c=32; while each run lasts
#      it reads the CPU time that the server, every postgres process and the load tool used (from
#      /proc), so the table shows what bounds each figure;
#   7. prints a markdown table like the peer's RESULTS.md (plus a CPU column) and leaves the raw tool
#      output in $OUT_DIR (default target/bench-rpc/<utc time>/).
# At exit (trap) it stops the server, drops the database and removes the data dir.
#
# Requirements: Node (>= 18) and a PREPARED peer folder, PEER_DIR (default ../shared/peers/trpc
# next to the repo): `npm ci && ./scripts/gen-keys.sh` done there, so node_modules/jose and
# keys/{private,public}.pem exist. (The shared copy is read-only: `cp -r` it somewhere writable,
# prepare it there and pass PEER_DIR.) There is no Node-free fallback: tokens and the seed come
# from the peer's scripts, so both servers see the same token shape and the same data.
# The peer itself is not started here: run its README's five commands first, in the same sitting.
#
# Env: PEER_DIR, PG_URL, DURATION, WARMUP, CONCURRENCIES, TOOL (auto|oha|wrk), LABEL (rust),
#      SKIP_BUILD, SKIP_ROWS, ROWS_N, SKIP_CALLS, CALLS_WAIT (15 s), OUT_DIR, KEEP_DB=1 (debugging),
#      PERF=<endpoint> (perf-record the server during that endpoint's c=32 run; report in OUT_DIR),
#      FEATURES (cargo features of rivvi-server for the release build, e.g. mimalloc),
#      RIVVI_BIN (a rivvi binary to measure instead of the one built here; implies SKIP_BUILD=1).
# Never part of the tests or of .ci/run.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"

PEER_DIR="$(cd "${PEER_DIR:-$REPO/../shared/peers/trpc}" 2>/dev/null && pwd || echo "${PEER_DIR:-}")"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
CONCURRENCIES="${CONCURRENCIES:-32 1}"
TOOL="${TOOL:-auto}"
LABEL="${LABEL:-rust}"
ROWS_N="${ROWS_N:-200}"
ORG="org_peer_0001"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
OUT_DIR="${OUT_DIR:-$TARGET/bench-rpc/$(date -u +%Y%m%dT%H%M%SZ)}"
export PATH="$HOME/.cargo/bin:$PATH"

die() { echo "bench-rpc: $*" >&2; exit 1; }
log() { echo "bench-rpc: $*" >&2; }

command -v node >/dev/null || die "needs Node (tokens and seed come from the peer's scripts)"
command -v psql >/dev/null || die "needs psql"
[[ -n "$PEER_DIR" && -f "$PEER_DIR/keys/private.pem" && -f "$PEER_DIR/keys/public.pem" && -d "$PEER_DIR/node_modules/jose" ]] ||
  die "PEER_DIR ($PEER_DIR) is not prepared: run 'npm ci && ./scripts/gen-keys.sh' in a writable copy of the peer and pass PEER_DIR"
if [[ "$TOOL" == auto ]]; then
  if command -v oha >/dev/null; then TOOL=oha; elif command -v wrk >/dev/null; then TOOL=wrk;
  else die "needs oha (cargo install oha --locked) or wrk (apt-get install -y wrk)"; fi
fi
mkdir -p "$OUT_DIR"

# --- 1. build
if [[ "${SKIP_BUILD:-0}" != 1 && -z "${RIVVI_BIN:-}" ]]; then
  log "building rivvi (release)"
  cargo build --release -q -p rivvi-server --bin rivvi ${FEATURES:+--features "$FEATURES"}
fi
BIN="${RIVVI_BIN:-$TARGET/release/rivvi}"
[[ -x "$BIN" ]] || die "no binary at $BIN"

# --- 2. database, data dir, cleanup
DB="rivvi_bench_$$"
DATA_DIR="$(mktemp -d)"
SEED_DIR="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  set +e
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
  fi
  if [[ "${KEEP_DB:-0}" != 1 ]]; then
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
  else
    log "kept database $DB"
  fi
  rm -rf "$DATA_DIR" "$SEED_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
psql -q -v ON_ERROR_STOP=1 "$PG_URL/postgres" -c "CREATE DATABASE $DB" >/dev/null

# --- 3. server
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
BASE_URL="http://127.0.0.1:$PORT"
log "starting rivvi on $BASE_URL, database $DB"
RIVVI_ENV=development \
  DATABASE_URL="$PG_URL/$DB" \
  RIVVI_LISTEN="127.0.0.1:$PORT" \
  RIVVI_DATA_DIR="$DATA_DIR" \
  CLERK_JWT_KEY="$(cat "$PEER_DIR/keys/public.pem")" \
  CLERK_AUTHORIZED_PARTIES="http://localhost:3000" \
  RIVVI_OPERATOR_ORG="org_bench_operator" \
  RIVVI_RATE_LIMIT_RPC_PER_MINUTE=off \
  RIVVI_RATE_LIMIT_WEBHOOK_PER_MINUTE=off \
  RIVVI_METRICS_LISTEN=off \
  RUST_LOG="${RUST_LOG:-warn}" \
  "$BIN" serve >"$OUT_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$BASE_URL/healthz" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$OUT_DIR/server.log" >&2; die "server exited"; }
  sleep 0.2
done
curl -fs -o /dev/null "$BASE_URL/healthz" || die "server not healthy after 20 s (see $OUT_DIR/server.log)"

# --- 4. seed (the peer's seed-rivvi.mjs from a temp copy: jose and keys/ resolve through symlinks)
mkdir -p "$SEED_DIR/scripts"
ln -s "$PEER_DIR/node_modules" "$SEED_DIR/node_modules"
ln -s "$PEER_DIR/keys" "$SEED_DIR/keys"
echo '{"type":"module"}' >"$SEED_DIR/package.json"
# campaigns.list pages now: count what exists from `total` (the peer's script reads `.length`).
sed "s/(await rpc(await token(clerkOrg), 'GET', 'campaigns.list', {})).length/((r) => Array.isArray(r) ? r.length : r.total)(await rpc(await token(clerkOrg), 'GET', 'campaigns.list', {}))/" \
  "$PEER_DIR/scripts/seed-rivvi.mjs" >"$SEED_DIR/scripts/seed-rivvi.mjs"
grep -q 'r.total' "$SEED_DIR/scripts/seed-rivvi.mjs" || die "could not adapt the peer's seed-rivvi.mjs (did it change?)"
log "seeding (50 orgs x 40 campaigns through the API)"
BASE_URL="$BASE_URL" OPERATOR_ORG=org_bench_operator node "$SEED_DIR/scripts/seed-rivvi.mjs" | tee "$OUT_DIR/seed.json" >&2

TOKEN="$(node "$PEER_DIR/scripts/mint-token.mjs" "$ORG" 86400)"
enc() { node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$1"; }
# GET with the token; writes the body to $2, prints the HTTP code.
rpc_get() { curl -s -o "$2" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$1"; }
# jsonpath-ish read of an rspc answer: node expression on `d` (= result.data).
data() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));if(r?.result?.type!=="response"){console.error(JSON.stringify(r).slice(0,800));process.exit(1)}const d=r.result.data;process.stdout.write(String('"$2"'))' "$1"; }

LIST_URL="$BASE_URL/rspc/campaigns.list?input=$(enc '{"limit":20}')"
code=$(rpc_get "$LIST_URL" "$OUT_DIR/list.json")
n=$(data "$OUT_DIR/list.json" 'd.campaigns.length') || n=-1
[[ "$code" == 200 && "$n" == 20 ]] || die "campaigns.list check failed: HTTP $code, rows=$n"
CID=$(data "$OUT_DIR/list.json" 'd.campaigns[0].id')
GET_URL="$BASE_URL/rspc/campaigns.get?input=$(enc "{\"id\":\"$CID\"}")"
code=$(rpc_get "$GET_URL" "$OUT_DIR/get.json")
[[ "$code" == 200 ]] && data "$OUT_DIR/get.json" 'd.id' >/dev/null || die "campaigns.get check failed: HTTP $code"
# rspc answers errors with HTTP 200 and {"result":{"type":"error","data":{"code":401,...}}}.
code=$(curl -s -o "$OUT_DIR/anon.json" -w '%{http_code}' "$LIST_URL")
anon=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));process.stdout.write(String(r?.result?.type==="error"?r.result.data.code:"ok"))' "$OUT_DIR/anon.json" 2>/dev/null || echo "?")
[[ "$code" == 401 || "$anon" == 401 ]] || die "expected a 401 without a token, got HTTP $code, $(head -c 300 "$OUT_DIR/anon.json")"
log "checks ok: list 200 (20 rows, $(wc -c <"$OUT_DIR/list.json") B), get 200 ($(wc -c <"$OUT_DIR/get.json") B), no token 401 (HTTP $code)"
ENDPOINTS=("campaigns.get|$GET_URL" "campaigns.list|$LIST_URL")

# --- 5. a run with rows, for runs.getRows
if [[ "${SKIP_ROWS:-0}" != 1 ]]; then
  # The engine dials only inside office hours and the patients' own 08:00-21:00, so that
  # calls.list has calls to list at any hour: move the org to a NANP zone where it is now
  # 08:00-19:00, open every day, with a caller number, and give the sheet's numbers an area code
  # of that zone (a patient's window follows the area code). No zone fits 11:00-11:30 UTC; then
  # calls.list is skipped. Nothing about the rules changes.
  read -r ZONE AREA < <(node -e '
    const zones=[["Pacific/Guam",671],["Pacific/Honolulu",808],["America/Anchorage",907],
      ["America/Los_Angeles",213],["America/Denver",303],["America/Chicago",312],["America/New_York",212],
      ["America/Puerto_Rico",787],["America/St_Johns",709]];
    const hour=(z)=>+new Intl.DateTimeFormat("en-GB",{timeZone:z,hour:"2-digit",hourCycle:"h23"}).format(new Date());
    const best=zones.filter(([z])=>hour(z)>=8&&hour(z)<=19).sort((a,b)=>Math.abs(hour(a[0])-13)-Math.abs(hour(b[0])-13))[0];
    console.log((best??["America/New_York",212]).join(" "));')
  open_day='{"open":"00:00","close":"24:00"}'
  week=$(printf '"%s":%s,' monday "$open_day" tuesday "$open_day" wednesday "$open_day" thursday "$open_day" \
    friday "$open_day" saturday "$open_day" sunday "$open_day")
  # Numbers are assigned by operators: the bench's operator organization assigns the caller number.
  OPERATOR_TOKEN="$(node "$PEER_DIR/scripts/mint-token.mjs" org_bench_operator 86400)"
  rpc_get "$BASE_URL/rspc/organizations.getCurrent" "$OUT_DIR/current.json" >/dev/null
  ORG_ID=$(data "$OUT_DIR/current.json" 'd.id')
  curl -s -o "$OUT_DIR/assign.json" -H "Authorization: Bearer $OPERATOR_TOKEN" -H 'content-type: application/json' \
    --data "{\"orgId\":\"$ORG_ID\",\"number\":\"+12025550199\",\"purpose\":\"both\"}" \
    "$BASE_URL/rspc/admin.phoneNumbers.assign"
  curl -s -o "$OUT_DIR/org.json" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    --data "{\"timeZone\":\"$ZONE\",\"officeHours\":{${week%,}},\"callerNumber\":\"+12025550199\",\"concurrentCallLimit\":20,\"callsPerMinute\":600}" \
    "$BASE_URL/rspc/organizations.update"
  data "$OUT_DIR/org.json" 'd.timeZone' >/dev/null 2>&1 && log "org $ORG now in $ZONE, open every day, 20 calls at once" \
    || log "could not move $ORG to $ZONE: $(head -c 300 "$OUT_DIR/org.json")"
  csv="$OUT_DIR/patients.csv"
  node -e '
    const n=+process.argv[1]; const out=["First name,Last name,Date of birth,Phone number,Appointment date,Appointment time,Provider,Office location,Preparation instructions,Office hours,Clinic time zone"];
    const first=["Ana","Ben","Chloe","David","Elena","Farid","Grace","Hugo","Iris","Jonas"], last=["Garcia","Smith","Nguyen","Okafor","Muller","Rossi","Kim","Silva","Cohen","Novak"], loc=["Main Street","Westside","Downtown","North Campus"];
    for(let i=0;i<n;i++){const p=process.argv[3]+"555"+String(1000+i*7%8999).padStart(4,"0");
      out.push([first[i%10],last[(i*3)%10]+i,`19${50+i%45}-0${1+i%9}-1${i%9}`,`(${p.slice(0,3)}) ${p.slice(3,6)}-${p.slice(6)}`,"2026-12-1"+(i%9),`${9+i%8}:${i%2?"30":"00"}`,"Dr. Lee",loc[i%4],"Bring your insurance card","8am-5pm Mon-Fri",process.argv[2]].join(","));}
    process.stdout.write(out.join("\n")+"\n");' "$ROWS_N" "$ZONE" "$AREA" >"$csv"
  rows_ok=0
  up=$(curl -s -H "Authorization: Bearer $TOKEN" --data-binary @"$csv" "$BASE_URL/uploads?fileName=patients.csv")
  UPLOAD_ID=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).uploadId??"")' "$up" 2>/dev/null || true)
  if [[ -n "$UPLOAD_ID" ]]; then
    body="{\"campaignId\":\"$CID\",\"uploadId\":\"$UPLOAD_ID\",\"name\":\"Bench\",\"clientRequestId\":\"bench-rpc\"}"
    curl -s -o "$OUT_DIR/run.json" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
      --data "$body" "$BASE_URL/rspc/runs.create" >/dev/null
    RUN_ID=$(data "$OUT_DIR/run.json" 'd.id' 2>"$OUT_DIR/run.err") || RUN_ID=""
    if [[ -n "$RUN_ID" ]]; then
      ROWS_URL="$BASE_URL/rspc/runs.getRows?input=$(enc "{\"runId\":\"$RUN_ID\",\"limit\":100}")"
      code=$(rpc_get "$ROWS_URL" "$OUT_DIR/rows.json")
      got=$(data "$OUT_DIR/rows.json" '(d.rows??d.items??d).length' 2>/dev/null || echo "?")
      if [[ "$code" == 200 ]]; then
        rows_ok=1
        log "runs.getRows ok: HTTP 200, $got rows, $(wc -c <"$OUT_DIR/rows.json") B"
        ENDPOINTS+=("runs.getRows|$ROWS_URL")
        # calls.list: start the run, let the simulator place calls for up to CALLS_WAIT s, cancel
        # the run (so the engine is idle during the load), then list 100 of them.
        if [[ "${SKIP_CALLS:-0}" != 1 ]]; then
          post() { curl -s -o "$OUT_DIR/$1.json" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
            --data "{\"id\":\"$RUN_ID\"}" "$BASE_URL/rspc/runs.$1"; }
          post start
          CALLS_URL="$BASE_URL/rspc/calls.list?input=$(enc '{"limit":100}')"
          calls=0
          for _ in $(seq 1 "${CALLS_WAIT:-15}"); do
            sleep 1
            rpc_get "$CALLS_URL" "$OUT_DIR/calls.json" >/dev/null
            calls=$(data "$OUT_DIR/calls.json" 'd.total' 2>/dev/null || echo 0)
            (( calls >= 100 )) && break
          done
          post cancel; sleep 3
          rpc_get "$CALLS_URL" "$OUT_DIR/calls.json" >/dev/null
          calls=$(data "$OUT_DIR/calls.json" 'd.calls.length' 2>/dev/null || echo 0)
          if (( calls > 0 )); then
            log "calls.list ok: $calls calls in the page, $(wc -c <"$OUT_DIR/calls.json") B"
            ENDPOINTS+=("calls.list|$CALLS_URL")
          else
            log "skipping calls.list: no calls placed (see $OUT_DIR/start.json)"
          fi
        fi
      fi
    fi
  fi
  (( rows_ok )) || log "skipping runs.getRows: could not create a run (upload: ${up:0:300}; $(head -c 300 "$OUT_DIR/run.err" 2>/dev/null))"
fi

# --- 6. load
clk=$(getconf CLK_TCK)
ticks() { # summed utime+stime (clock ticks) of the given pids; vanished ones count 0
  local t=0 p f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$(( t + ${f% *} + ${f#* } ))
  done
  echo "$t"
}
# "pid ticks" of every postgres process; pg_delta BEFORE AFTER sums, per pid, what each used in
# between (a backend that started meanwhile counts whole, one that exited meanwhile is lost).
pg_snap() { local p; for p in $(pgrep -u postgres -x postgres || true); do echo "$p $(ticks "$p")"; done; }
pg_delta() { awk 'NR == FNR { b[$1] = $2; next } { d += $2 - ($1 in b ? b[$1] : 0) } END { print d + 0 }' <(echo "$1") <(echo "$2"); }
run_tool() { # $1=url $2=concurrency $3=seconds $4=outfile; prints the tool's user+sys CPU seconds
  local TIMEFORMAT='%U %S' t
  if [[ "$TOOL" == oha ]]; then
    t=$( { time oha -z "${3}s" -w -c "$2" --no-tui --output-format json -H "Authorization: Bearer $TOKEN" "$1" >"$4"; } 2>&1 )
  else
    local th=$(( $2 < 2 ? $2 : 2 ))
    t=$( { time wrk -t "$th" -c "$2" -d "${3}s" --latency -H "Authorization: Bearer $TOKEN" "$1" >"$4"; } 2>&1 )
  fi
  awk '{printf "%.2f", $1 + $2}' <<<"$t"
}
summarize() { # $1=outfile -> "rps|p50ms|p99ms|non200"
  if [[ "$TOOL" == oha ]]; then
    node -e '
      const r=JSON.parse(require("fs").readFileSync(process.argv[1]));
      const sc=r.statusCodeDistribution||{}; const ok=sc["200"]||0;
      const tot=Object.values(sc).reduce((a,b)=>a+b,0)+Object.values(r.errorDistribution||{}).reduce((a,b)=>a+b,0);
      const p=r.latencyPercentiles, ms=(x)=>(x*1000).toFixed(2);
      console.log([r.summary.requestsPerSec.toFixed(0), ms(p.p50), ms(p.p99), tot-ok].join("|"));' "$1"
  else
    node -e '
      const s=require("fs").readFileSync(process.argv[1],"utf8");
      const toMs=(v)=>{const m=v.match(/([\d.]+)(us|ms|s)/);const x=+m[1];return (m[2]=="us"?x/1000:m[2]=="s"?x*1000:x).toFixed(2)};
      const rps=+s.match(/Requests\/sec:\s+([\d.]+)/)[1];
      const p50=s.match(/\n\s+50%\s+(\S+)/)[1], p99=s.match(/\n\s+99%\s+(\S+)/)[1];
      const bad=(s.match(/Non-2xx or 3xx responses:\s+(\d+)/)||[0,0])[1];
      const err=s.match(/Socket errors:.*/); console.log([rps.toFixed(0),toMs(p50),toMs(p99),bad+(err?" ("+err[0]+")":"")].join("|"));' "$1"
  fi
}

log "load: tool=$TOOL, ${DURATION}s per run, concurrencies: $CONCURRENCIES; load average $(cut -d' ' -f1-3 /proc/loadavg)"
if (( WARMUP > 0 )); then run_tool "$LIST_URL" 32 "$WARMUP" "$OUT_DIR/warmup.out" >/dev/null || true; fi
{
  echo "| setup | endpoint | conc | req/s | p50 ms | p99 ms | non-200 | CPU server / postgres / $TOOL (% of one core) |"
  echo "|---|---|---:|---:|---:|---:|---:|---|"
} | tee "$OUT_DIR/summary.md"
for ep in "${ENDPOINTS[@]}"; do
  name="${ep%%|*}"; url="${ep#*|}"
  for c in $CONCURRENCIES; do
    f="$OUT_DIR/$name-c$c.$TOOL.out"
    s0=$(ticks "$SERVER_PID"); p0=$(pg_snap); t0=$(date +%s.%N)
    if [[ -n "${PERF:-}" && "$PERF" == "$name" && "$c" == 32 ]]; then
      # A flat CPU profile of the server under this load (perf must be allowed: run as root).
      perf record -q -F 499 -p "$SERVER_PID" -o "$OUT_DIR/perf-$name.data" -- sleep "$(( DURATION - 2 ))" \
        >/dev/null 2>&1 &
      perf_pid=$!
    fi
    tool_s=$(run_tool "$url" "$c" "$DURATION" "$f")
    if [[ -n "${perf_pid:-}" ]]; then
      wait "$perf_pid" || true; perf_pid=""
      perf report -i "$OUT_DIR/perf-$name.data" --no-children --percent-limit 0.7 --stdio -g none \
        >"$OUT_DIR/perf-$name.txt" 2>/dev/null || true
      log "profile of the server under $name c=32: $OUT_DIR/perf-$name.txt"
    fi
    t1=$(date +%s.%N); s1=$(ticks "$SERVER_PID"); p1=$(pg_snap)
    cpu=$(awk -v s=$((s1 - s0)) -v p="$(pg_delta "$p0" "$p1")" -v t="$tool_s" -v hz="$clk" -v a="$t0" -v b="$t1" \
      'BEGIN { w = b - a; printf "%.0f / %.0f / %.0f", 100*s/hz/w, 100*p/hz/w, 100*t/w }')
    IFS='|' read -r rps p50 p99 bad <<<"$(summarize "$f")"
    echo "| $LABEL | $name | $c | $rps | $p50 | $p99 | $bad | $cpu |" | tee -a "$OUT_DIR/summary.md"
  done
done
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the load (see $OUT_DIR/server.log)"
log "raw output: $OUT_DIR"
