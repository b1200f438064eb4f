#!/usr/bin/env bash
# Layer store benchmark (issue 13): the everyday loop, a rebuild after changing the last COPY source.
#   Dockerfile: FROM debian:minbase (scripts/make-base-images) / RUN (writes a few files) / COPY app.txt
# Each run: an empty kiln cache dir (blobs and layer store) and empty buildah storage, one cold build
# each (so the RUN layer is cached and the base kept), then app.txt changes and each tool rebuilds:
#   kiln direct     kiln build --cache (registry cache repo), as it comes: the COPY's layer is written
#                   without making the rootfs (looked up in the layer store)
#   kiln store      the same with KILN_DIRECT_COPY=off and KILN_LAYER_STORE_MODE=copy: the rootfs is a copy of the kept layers
#   kiln overlay    KILN_DIRECT_COPY=off, KILN_LAYER_STORE_MODE=overlay (kept layers stacked by an overlay mount; root only; the default where it mounts)
#   kiln no store   the same with --layer-store-max-bytes 0 (every layer unpacked again, as before the store)
#   buildah         buildah bud --layers --isolation chroot (overlay driver) + buildah push
# all pushing to the same local docker-registry. Median of RUNS (default 5); prints a markdown table.
# kiln is the checkout's launcher ./kiln (the short-run path), or `java -jar` with KILN_CMD=jar.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-layer-store}"
runs="${RUNS:-5}"
reg_port=5311
[ -f "$jar" ] || { echo "build the jar first: mvn -B package -DskipTests" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work"

reg="127.0.0.1:$reg_port"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" minbase >&2

bench_buildah_conf "$work/buildah" "$reg"
bstore="--root $work/buildah/root --runroot $work/buildah/runroot --storage-driver overlay"

ctx="$work/ctx"
mkdir -p "$ctx"
echo "app 0" > "$ctx/app.txt"
cat > "$ctx/Dockerfile" <<DF
FROM $reg/debian:minbase
RUN mkdir -p /app && echo built > /app/built.txt && date > /app/when.txt
COPY app.txt /app/app.txt
DF

# timed OUT CMD…: appends the wall seconds of CMD to OUT
timed() { local out="$1"; shift; /usr/bin/time -f "%e" -a -o "$out" bash -c '"$@"' _ "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; }
kiln() { # tag extra-args…
  local tag="$1"; shift
  local cmd=("$here/kiln")
  [ "${KILN_CMD:-launcher}" = jar ] && cmd=(java -jar "$jar")
  "${cmd[@]}" build -c "$ctx" -d "$reg/bench/layers:$tag" --insecure-registry "$reg" \
    --cache --cache-repo "$reg/bench-cache/layers" --cache-dir "$work/kiln-cache" "$@"
}
buildah_build() {
  buildah $bstore bud --layers --isolation chroot --signature-policy "$work/buildah/policy.json" \
    --tls-verify=false -q -t "bench-layers:$1" "$ctx" &&
  buildah $bstore push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q \
    "bench-layers:$1" "docker://$reg/bench/layers:buildah-$1"
}
export -f buildah_build kiln
export bstore work reg ctx jar here
# the launcher's first run after a build of the jar trains its AOT cache (or CDS archive): not a build's time
[ "${KILN_CMD:-launcher}" = jar ] || "$here/kiln" --version > /dev/null
for f in direct store copy nostore changed_buildah cold_kiln cold_buildah; do : > "$work/$f"; done
for i in $(seq 1 "$runs"); do
  rm -rf "$work/kiln-cache"; buildah $bstore rmi -a -f > /dev/null 2>&1 || true
  timed "$work/cold_kiln" kiln "cold$i"
  timed "$work/cold_buildah" buildah_build "cold$i"
  echo "app $i 0" > "$ctx/app.txt"; timed "$work/direct" kiln "direct$i"
  cp "$work/last.log" "$work/kiln-direct-$i.log"
  echo "app $i a" > "$ctx/app.txt"; KILN_DIRECT_COPY=off KILN_LAYER_STORE_MODE=copy timed "$work/store" kiln "store$i"
  cp "$work/last.log" "$work/kiln-store-$i.log"
  echo "app $i b" > "$ctx/app.txt"; KILN_DIRECT_COPY=off KILN_LAYER_STORE_MODE=overlay timed "$work/copy" kiln "overlay$i"
  echo "app $i c" > "$ctx/app.txt"; KILN_DIRECT_COPY=off timed "$work/nostore" kiln "nostore$i" --layer-store-max-bytes 0
  echo "app $i d" > "$ctx/app.txt"
  timed "$work/changed_buildah" buildah_build "changed$i"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| phase | kiln direct COPY s | kiln store (copy) s | kiln store (overlay) s | kiln no store s | buildah --layers s | direct / buildah |"
echo "|---|---:|---:|---:|---:|---:|---:|"
d=$(median < "$work/direct"); s=$(median < "$work/store"); c=$(median < "$work/copy"); n=$(median < "$work/nostore"); b=$(median < "$work/changed_buildah")
echo "| cold | $(median < "$work/cold_kiln") | | | | $(median < "$work/cold_buildah") | |"
echo "| changed COPY source | $d | $s | $c | $n | $b | $(awk -v a="$d" -v b="$b" 'BEGIN {printf "%.2f", a/b}') |"
echo
for f in cold_kiln cold_buildah direct store copy nostore changed_buildah; do echo "runs $f: $(tr '\n' ' ' < "$work/$f")"; done
