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

# bench_registry WORK HOST:PORT [NAME]: Debian's docker-registry on a loopback address for the run only
# (WORK/NAME.yml, its data in WORK/NAME, its log in WORK/NAME.log, its pid in $pids; NAME defaults to
# "registry"), waiting for /v2/.
bench_registry() {
  local work="$1" addr="$2" name="${3:-registry}"
  cat > "$work/$name.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/$name}, delete: {enabled: true}}
http: {addr: $addr}
YML
  docker-registry serve "$work/$name.yml" > "$work/$name.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 300); do curl -sf -o /dev/null "http://$addr/v2/" && return 0; sleep 0.1; done
  echo "no answer from the registry at $addr ($work/$name.log)" >&2
  return 1
}

# bench_buildah_conf DIR REGISTRY: buildah may use REGISTRY over plain HTTP and takes any image
# (DIR/registries.conf, exported as CONTAINERS_REGISTRIES_CONF; DIR/policy.json for --signature-policy).
bench_buildah_conf() {
  mkdir -p "$1"
  printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$2" > "$1/registries.conf"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' > "$1/policy.json"
  export CONTAINERS_REGISTRIES_CONF="$1/registries.conf"
}

# bench_workload_small DIR BASE / bench_workload_heavy DIR BASE: the builder benchmarks' small and heavy
# contexts in DIR, FROM BASE/busybox:latest and BASE/debian:minbase (a registry address or a mirror's name)
bench_workload_small() {
  mkdir -p "$1/conf"
  echo "hello" > "$1/a.txt"; echo "x=1" > "$1/conf/app.conf"
  cat > "$1/Dockerfile" <<DF
FROM $2/busybox:latest
ENV APP_HOME=/opt/app
WORKDIR \$APP_HOME
COPY conf/ /etc/app/
ARG VERSION=1
RUN echo "version \$VERSION" > version.txt && mkdir -p data
RUN cat /etc/app/app.conf version.txt > data/all.txt
COPY a.txt .
CMD ["cat", "/opt/app/a.txt"]
DF
}
bench_workload_heavy() {
  mkdir -p "$1"
  head -c 1000000 /dev/urandom > "$1/app.bin"
  cat > "$1/Dockerfile" <<DF
FROM $2/debian:minbase
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends jq less > /dev/null && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /data/small && cd /data/small && for i in \$(seq 1 10000); do echo "file \$i" > f\$i; done && head -c 100000000 /dev/urandom > /data/big.bin
COPY app.bin /app/app.bin
DF
}
