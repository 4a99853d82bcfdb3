#!/usr/bin/env bash
# Runs one load-generator line while other work on the machine is paused, and prints the JSON line
# with `uptime` and the command added (the format of docs/bench-data/*.jsonl):
#
#   PAUSE='/work/wt-' scripts/bench-paused.sh --log postgres://postgres@127.0.0.1:5432/test \
#       --sagas 8000 --concurrency 64 --steps 3 --rounds 5
#
# PAUSE: processes whose working directory or command line contains this string get SIGSTOP before
# the run and SIGCONT after it (also if the run fails or is interrupted); empty pauses nothing.
# LOADGEN: the built load-generator binary (default: the newest target/release/deps/loadgen-*; build
# it with `cargo bench --bench loadgen --no-run`).
set -uo pipefail
cd "$(dirname "$0")/.."
LOADGEN=${LOADGEN:-$(ls -t target/release/deps/loadgen-* 2>/dev/null | grep -v '\.d$' | head -1)}
[ -x "$LOADGEN" ] || { echo "no load generator built (cargo bench --bench loadgen --no-run)" >&2; exit 2; }
PAUSE=${PAUSE:-}
signal() {
    [ -n "$PAUSE" ] || return 0
    for d in /proc/[0-9]*; do
        local pid=${d#/proc/} cwd cmd
        [ "$pid" = "$$" ] && continue
        cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
        cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
        case "$cmd" in *bench-paused.sh*) continue ;; esac
        case "$cwd $cmd" in *"$PAUSE"*) kill "-$1" "$pid" 2>/dev/null ;; esac
    done
}
trap 'signal CONT' EXIT
signal STOP
sync
sleep 2
load=$(uptime | sed 's/.*load average: //')
line=$("$LOADGEN" "$@" | tail -1) || exit 1
signal CONT
python3 -c 'import json,sys; l=json.loads(sys.argv[1]); l["uptime"]=sys.argv[2]; l["command"]=sys.argv[3]; print(json.dumps(l, sort_keys=True))' \
    "$line" "$load" "cargo bench --bench loadgen -- $*"
