# Sourced by benchmarks: Debian's docker-registry on a loopback address, for the run only.
#   bench_registry WORK HOST:PORT   writes WORK/registry.yml, starts the registry (its pid appended to the
#                                   caller's pids array, for the caller's EXIT trap) and waits for /v2/
bench_registry() {
  local work="$1" addr="$2"
  cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: $addr}
YML
  docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 300); do curl -sf -o /dev/null "http://$addr/v2/" && return 0; sleep 0.1; done
  echo "no answer from the registry at $addr ($work/registry.log)" >&2
  return 1
}
