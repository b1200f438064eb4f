#!/bin/sh
# kaniko's classic Pod spec with Kiln's executor image, played by podman: for each round a cold run
# (empty cache repository) and an all-cached run, under kaniko's usual securityContext and under the
# one Kiln's in-place Jobs get. Runs KanikoPodSpecIT with kiln.bench.rounds and prints what it
# measured per run (container start to exit, container start to first log line, CPU of the
# container's cgroup), then the medians. Needs root, podman, skopeo and docker-registry, as the test does.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
flock /tmp/kiln-maven.lock mvn -B -o -Dit.test=KanikoPodSpecIT -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -Dkiln.bench.rounds="$ROUNDS" verify >"$out" 2>&1 || { tail -50 "$out"; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
grep 'KanikoPodSpecIT bench' "$out"
# "KanikoPodSpecIT bench kk-<variant>-<id>- <run>: container S s, first log line after S s, CPU S s"
grep 'KanikoPodSpecIT bench' "$out" | sed -E 's/.*bench kk-([a-z]+)-[0-9a-f]+- ([a-z]+): container ([0-9.]+) s, first log line after ([0-9.]+) s, CPU ([0-9.na\/]+) s/\1 \2 \3 \4 \5/' |
    sort -k1,1 -k2,2 -k5,5 | awk '
    function median(list, n,   a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { key = $1 " " $2; c[key] = c[key] " " $3; s[key] = s[key] " " $4; u[key] = u[key] " " $5; keys[key] = 1 }
    END {
        print "variant run: median container s / first log line s / CPU s"
        for (k in keys) printf "%s: %s / %s / %s\n", k, median(c[k]), median(s[k]), median(u[k])
    }'
