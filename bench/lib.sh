# The common part of the bench scripts, sourced right after `set -euo pipefail`: $here (the
# repository), background processes in $pids killed on exit (and on Ctrl-C), and small timing helpers.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_http URL [any]: until URL answers 2xx (with "any": any HTTP status, e.g. a 401), at most 60 s.
wait_http() {
  local fail=-f
  [ "${2:-}" = any ] && fail=
  for _ in $(seq 1 600); do curl -s $fail -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; exit 1
}
now() { date +%s.%N; }
# since START [DIGITS]: seconds from START (a `now`), with DIGITS decimals (2).
since() { python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.{sys.argv[2]}f}')" "$1" "${2:-2}"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
