#!/usr/bin/env bash
# Parallel layer compression (issue 13): `kiln build` of FROM scratch + COPY of one big file (MIB MiB,
# default 200: half text-like, half random) to a tarball, gzip and zstd, with the jar before the change
# (BEFORE_APP=…/quarkus-app) and the current one, ROUNDS times each (default 5), interleaved. Prints median
# wall and CPU seconds and checks that both jars wrote a layer with the same diff_id.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-5}" mib="${MIB:-200}"
before="${BEFORE_APP:?BEFORE_APP=path/to/an/older/quarkus-app}"
after="$here/target/quarkus-app"
work="${WORK:-$(mktemp -d /tmp/kiln-layer-compression.XXXXXX)}"
mkdir -p "$work/ctx"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
if [ ! -f "$work/ctx/big.bin" ]; then
  # yes ends on SIGPIPE once head has enough
  yes "a line of a log file or source text that repeats with small changes" | head -c $((mib * 512 * 1024)) > "$work/ctx/big.bin" || true
  head -c $((mib * 512 * 1024)) /dev/urandom >> "$work/ctx/big.bin"
fi
printf 'FROM scratch\nCOPY big.bin /data/big.bin\n' > "$work/ctx/Dockerfile"
: > "$work/times"
for i in $(seq 1 "$rounds"); do
  for c in gzip zstd; do
    for v in before after; do
      [ "$v" = before ] && app="$before" || app="$after"
      rm -f "$work/out.tar"
      /usr/bin/time -o "$work/t" -f "%e %U %S" java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar "$app/quarkus-run.jar" \
        build -c "$work/ctx" --no-push --tar-path "$work/out.tar" -d bench/big:1 --compression "$c" --reproducible \
        > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
      echo "$v $c $(awk '{print $1, $2 + $3}' "$work/t")" >> "$work/times"
      if [ "$i" = 1 ]; then
        tar -xOf "$work/out.tar" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Config"])' > "$work/cfg"
        tar -xOf "$work/out.tar" "$(cat "$work/cfg")" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootfs"]["diff_ids"])' > "$work/diff-$v-$c"
      fi
    done
  done
done
for c in gzip zstd; do
  cmp -s "$work/diff-before-$c" "$work/diff-after-$c" || { echo "$c: the layers differ in content" >&2; exit 1; }
done
echo "| layer ($mib MiB, half text, half random) | jar | wall s | CPU s |"
echo "| --- | --- | --- | --- |"
for c in gzip zstd; do
  for v in before after; do
    w=$(awk -v v="$v" -v c="$c" '$1 == v && $2 == c {print $3}' "$work/times" | median)
    u=$(awk -v v="$v" -v c="$c" '$1 == v && $2 == c {print $4}' "$work/times" | median)
    echo "| $c | $v | $w | $u |"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
