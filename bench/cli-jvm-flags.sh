#!/usr/bin/env bash
# JVM flags for short command-line runs: `kiln --version` and a FROM scratch + COPY of 3,000 4 KiB files
# to a tarball, each ROUNDS times with the JVM's defaults and with C1 only + the serial collector.
# Prints the median wall seconds, CPU seconds (user+sys) and peak RSS. Needs the packaged jar.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-5}"
jar=target/quarkus-app/quarkus-run.jar
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx"
for i in $(seq 1 3000); do head -c 4096 /dev/urandom >"$work/ctx/f$i"; done
printf 'FROM scratch\nCOPY . /data/\nENV A=1\n' >"$work/ctx/Dockerfile"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # label, then the command
  local label="$1"; shift
  : >"$work/times"
  for _ in $(seq "$rounds"); do
    rm -f "$work/out.tar"
    /usr/bin/time -o "$work/t" -f "%e %U %S %M" "$@" >/dev/null 2>&1
    cat "$work/t" >>"$work/times"
  done
  printf '%-45s wall %5s s  cpu %5s s  rss %6s KiB\n' "$label" \
    "$(awk '{print $1}' "$work/times" | median)" "$(awk '{print $2+$3}' "$work/times" | median)" \
    "$(awk '{print $4}' "$work/times" | median)"
}
for opts in "" "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"; do
  # shellcheck disable=SC2086
  measure "--version [${opts:-defaults}]" java $opts -jar "$jar" --version
  # shellcheck disable=SC2086
  measure "3000-file COPY build [${opts:-defaults}]" java $opts -jar "$jar" build -c "$work/ctx" --no-push \
    --tar-path "$work/out.tar" -d bench/cli:1
done
uptime
