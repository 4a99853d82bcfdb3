#!/usr/bin/env bash
# Runs the load generator over 1, 8, 64 and 256 sagas in flight, with batching on (the default) and
# off, for each log given, and appends each JSON line (with the machine's `uptime` load averages just
# before the run) to docs/bench-data/<name>.jsonl; then `python3 scripts/charts.py` draws them.
#
#   scripts/bench-curves.sh sqlite:///tmp/lg.db postgres://postgres@127.0.0.1:5432/test \
#       mysql://root@127.0.0.1:3306/test redis://127.0.0.1:6379
#
# ROUNDS (default 5) alternating rounds of baseline and library per line; CONCURRENCY (default
# "1 8 64 256"); OUT (default docs/bench-data); LOADGEN: a built loadgen binary to run instead of
# `cargo bench` (e.g. while cargo is busy elsewhere). Sagas per run scale with concurrency.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CONCURRENCY=${CONCURRENCY:-"1 8 64 256"}
OUT=${OUT:-docs/bench-data}
mkdir -p "$OUT"
if [ -z "${LOADGEN:-}" ]; then
    cargo bench --bench loadgen --no-run 2>/dev/null
fi
loadgen() {
    if [ -n "${LOADGEN:-}" ]; then "$LOADGEN" "$@"; else cargo bench --bench loadgen -q -- "$@"; fi
}
for log in "$@"; do
    name=${log%%:*}
    for c in $CONCURRENCY; do
        case $c in 1) n=${N1:-300} ;; 8) n=${N8:-1500} ;; *) n=${N64:-4000} ;; esac
        for batching in on off; do
            load=$(uptime | sed 's/.*load average: //')
            line=$(loadgen --log "$log" --sagas "$n" --concurrency "$c" --steps 3 \
                --batching "$batching" --rounds "$ROUNDS" 2>/dev/null | tail -1)
            python3 -c 'import json,sys; l=json.loads(sys.argv[1]); l["uptime"]=sys.argv[2]; print(json.dumps(l, sort_keys=True))' \
                "$line" "$load" | tee -a "$OUT/$name.jsonl"
        done
    done
done
