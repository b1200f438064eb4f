#!/usr/bin/env bash
# Issue 13: stages that need nothing from each other run concurrently. Two independent stages, each a
# ~1.5 s busybox compute loop (a RUN) plus a COPY, and a final stage copying from both, built from a
# busybox base in a local docker-registry (already pulled: the runs time the stages, not the pull):
#   ./kiln build --max-parallel-stages 1 | 2 (the launcher users run: C1, serial GC, AOT cache or CDS;
#                                            --no-push, same cache dir, so the base stays unpacked)
#   java -jar quarkus-run.jar build …        (the same with the JVM's default flags, as measured first)
#   buildah bud --jobs 1 | 2                 (--isolation chroot, overlay, --layers=false, base kept)
# Median of RUNS (default 5) wall seconds per row; run it holding the Maven lock so no test competes:
#   flock /tmp/kiln-maven.lock bash bench/parallel-stages.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-parallel}"
runs="${RUNS:-5}"
loops="${LOOPS:-700000}"
reg_port=5311
# shellcheck source=../scripts/jar-freshness
. "$here/scripts/jar-freshness"
# a stale jar would make ./kiln run Maven in the middle of the timed runs
! kiln_jar_stale "$here" "$jar" || { echo "package first: mvn -B -q package -DskipTests" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work"

reg="127.0.0.1:$reg_port"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" busybox >&2

ctx="$work/ctx"
mkdir -p "$ctx"
echo a > "$ctx/a.txt"; echo b > "$ctx/b.txt"
cat > "$ctx/Dockerfile" <<DF
FROM $reg/busybox:latest AS one
COPY a.txt /one/
RUN i=0; while [ \$i -lt $loops ]; do i=\$((i+1)); done; echo \$i > /one/count

FROM $reg/busybox:latest AS two
COPY b.txt /two/
RUN i=0; while [ \$i -lt $loops ]; do i=\$((i+1)); done; echo \$i > /two/count

FROM $reg/busybox:latest
COPY --from=one /one /one
COPY --from=two /two /two
DF

bench_buildah_conf "$work/buildah" "$reg"
bstore=(--root "$work/buildah/root" --runroot "$work/buildah/runroot" --storage-driver overlay)

kargs() { echo build -c "$ctx" --no-push --insecure-registry "$reg" --cache-dir "$work/kiln-cache" --max-parallel-stages "$1"; }
# shellcheck disable=SC2046
kiln() { "$here/kiln" $(kargs "$1"); }
# shellcheck disable=SC2046
kjar() { java -jar "$jar" $(kargs "$1"); }
bah() { buildah "${bstore[@]}" bud --isolation chroot --signature-policy "$work/buildah/policy.json" --tls-verify=false \
          -q --layers=false --jobs "$1" -t bench-parallel "$ctx"; }
timed() { # file cmd… : appends wall seconds
  local out="$1" t0 t1; shift
  t0=$(date +%s.%N); "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b-a}' >> "$out"
}
# warm-up: the base pulled (and unpacked) once for each tool
# (the launcher's first run also trains its AOT cache or CDS archive, as after every build of the jar)
kiln 1 > /dev/null 2>&1; kjar 1 > /dev/null 2>&1; bah 1 > /dev/null 2>&1
tools=(kiln kjar bah)
for tool in "${tools[@]}"; do for p in 1 2; do : > "$work/$tool.$p"; done; done
uptime >&2
for i in $(seq 1 "$runs"); do
  for p in 1 2; do for tool in "${tools[@]}"; do timed "$work/$tool.$p" "$tool" "$p"; done; done
done
echo "| builder | 1 at a time, s | 2 at a time, s | 2 / 1 |"
echo "|---|---:|---:|---:|"
for tool in "${tools[@]}"; do
  one=$(median < "$work/$tool.1"); two=$(median < "$work/$tool.2")
  case "$tool" in
    kiln) name="./kiln build --max-parallel-stages" ;;
    kjar) name="java -jar quarkus-run.jar build --max-parallel-stages" ;;
    *) name="buildah bud --jobs" ;;
  esac
  echo "| $name | $one | $two | $(awk -v a="$two" -v b="$one" 'BEGIN {printf "%.2f", a/b}') |"
  for p in 1 2; do echo "$tool $p: $(tr '\n' ' ' < "$work/$tool.$p")" >&2; done
done
uptime >&2
