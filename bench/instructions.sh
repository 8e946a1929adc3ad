#!/usr/bin/env bash
# Instructions per HTTP request, ours against the bare reference, counted by valgrind's
# callgrind: unlike time, an instruction count repeats within ~2 % here whatever else the
# machine does (this VM's speed moved 1.7x between two timed runs of one build), so it is
# what to compare when a change saves a few percent. It does not see cache misses, GC
# threads' timing or the kernel: it complements `npm run bench`, it does not replace it.
#
#   bash bench/instructions.sh [REQUESTS] [PATH] [BODY]
#   bash bench/instructions.sh 1500 /api/push '{"userId":"p1","event":"bench:push","data":{"t":0}}'
#   ID_REPLACEMENT=1 bash bench/instructions.sh 1500 /api/push '{"userId":"[<id>]","persist":true}'
#
# With ID_REPLACEMENT=1, autocannon puts a new random UUID in place of each [<id>] of the
# body, so that every request reaches another user (e.g. another inbox).
#
# Each server runs under callgrind on its own loopback port (both at once: counts do not
# depend on timing), takes 3,000 requests of warm-up from autocannon (10 connections), then
# has its counters zeroed, takes REQUESTS more and is dumped. No sockets are connected.
# Ours runs from dist/ (npm run build) as the benchmark runs it: production, an API key,
# info logs to a file. Needs valgrind (Debian package `valgrind`); takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-1500}
ROUTE=${2:-/api/push}
BODY=${3:-'{"userId":"p1","event":"bench:push","data":{"title":"Bench","orderId":42,"t":0}}'}
KEY=bench-api-key-0123456789abcdef
AUTOCANNON=node_modules/.bin/autocannon
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 2; }
[ -f dist/main.js ] || npm run build >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# run KIND PORT: starts one server under callgrind, loads it, prints its instructions per request.
run() {
  local kind=$1 port=$2 out="$WORK/$1"
  mkdir -p "$out/chat"
  local common=(PATH="$PATH" PORT="$port" HOST=127.0.0.1 NODE_ENV=production)
  local entry=(node --import tsx bench/reference/server.ts)
  [ "$kind" = ours ] && {
    common+=(API_KEYS="$KEY" JWT_SECRET=bench-jwt-secret-that-is-at-least-32-bytes-long!! CHAT_SESSIONS_DIR="$out/chat"
      LOG_LEVEL=info LOG_PRETTY=false RATE_LIMIT_HTTP_PER_MINUTE=10000000 UV_THREADPOOL_SIZE=16)
    entry=(node dist/main.js)
  }
  # vgdb names its pipe after HOST, which the server's environment sets: callgrind_control below uses the same.
  env -i "${common[@]}" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.%p" "${entry[@]}" >"$out/log" 2>&1 &
  local pid=$!
  # run is a background subshell: its own EXIT trap stops its server, whichever way it ends.
  trap 'kill "$pid" 2>/dev/null || true' EXIT
  for _ in $(seq 180); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 1; done
  local load=(-c 10 -m POST ${ID_REPLACEMENT:+-I} -H content-type=application/json -H "x-api-key=$KEY" -b "$BODY" "http://127.0.0.1:$port$ROUTE")
  "$AUTOCANNON" -a 3000 "${load[@]}" >/dev/null 2>&1
  HOST=127.0.0.1 callgrind_control -z "$pid" >/dev/null 2>&1
  "$AUTOCANNON" -j -a "$REQUESTS" "${load[@]}" >"$out/load.json" 2>/dev/null
  HOST=127.0.0.1 callgrind_control -d "$pid" >/dev/null 2>&1
  local total
  total=$(grep -h '^summary:' "$out"/callgrind.*.1 | awk '{print $2}')
  # Every request answered 2xx, or the count is not of the work it claims to be.
  node -e "const r=JSON.parse(require('fs').readFileSync('$out/load.json','utf8'));if(r['2xx']!==$REQUESTS||r.errors!==0){console.error('$kind: '+r['2xx']+' of $REQUESTS requests answered 2xx, '+r.errors+' errors');process.exit(1)}"
  echo $((total / REQUESTS)) >"$out/per-request"
}

run ours "$(free_port)" &
OURS=$!
run reference "$(free_port)" &
REF=$!
wait $OURS
wait $REF
ours=$(cat "$WORK/ours/per-request")
reference=$(cat "$WORK/reference/per-request")
echo "POST $ROUTE, $REQUESTS requests after 3,000 of warm-up, instructions per request (callgrind):"
printf '  ours       %12s\n  reference  %12s\n  ours/ref   %12s\n' "$ours" "$reference" "$(node -e "console.log(($ours / $reference).toFixed(3))")"
