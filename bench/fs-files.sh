#!/usr/bin/env bash
# The big RUN (issue 13): kaniko's benchmark_fs shape, one RUN writing N small files (N/1000
# directories of 1000) on busybox, built and pushed cold: `kiln build` through the launcher with the
# kept layers stacked by overlayfs (the default where it mounts) and copied (KILN_LAYER_STORE_MODE=copy),
# against `buildah bud --isolation chroot` on its overlay driver plus `buildah push`.
#   SIZES="10000 50000" TOOLS="kiln-overlay kiln-copy buildah" RUNS=1 bench/fs-files.sh
# One line per run: tool, N, wall s, CPU s (user+sys of the whole process tree), peak RSS MiB
# (GNU time; buildah: bud plus push, RSS the larger). Cold: a fresh --cache-dir (so an empty layer
# store) and, for buildah, every image removed first. Needs root, docker-registry, buildah, skopeo.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
work="${WORK:-/tmp/kiln-bench-fs}"
runs="${RUNS:-1}"
reg_port="${REG_PORT:-5311}"
jar="$here/target/quarkus-app/quarkus-run.jar"
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)

rm -rf "$work" && mkdir -p "$work"
reg="127.0.0.1:$reg_port"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" busybox >&2

bench_buildah_conf "$work/buildah" "$reg"
bstore=(--root "$work/buildah/root" --runroot "$work/buildah/runroot" --storage-driver overlay)

for n in ${SIZES:-10000 50000}; do
  mkdir -p "$work/ctx/fs$n"
  cat > "$work/ctx/fs$n/Dockerfile" <<DF
FROM $reg/busybox:latest
RUN mkdir -p /fs && cd /fs && for d in \$(seq 1 $((n / 1000))); do mkdir d\$d; for f in \$(seq 1 1000); do echo \$f > d\$d/f\$f; done; done
DF
done

# the launcher trains its AOT cache (or CDS archive) on its first run after a build of the jar: not in a timed run
"$here/kiln" --version > /dev/null 2>&1 || true

# timed OUT CMD…: appends "wall user sys maxrss_kib" of CMD to OUT
timed() { local out="$1"; shift; /usr/bin/time -f "%e %U %S %M" -a -o "$out" "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; }

for n in ${SIZES:-10000 50000}; do
  for tool in ${TOOLS:-kiln-overlay kiln-copy buildah}; do
    for i in $(seq 1 "$runs"); do
      : > "$work/t"
      case "$tool" in
        kiln-overlay|kiln-copy)
          rm -rf "$work/kiln-cache"
          mode=auto; [ "$tool" = kiln-copy ] && mode=copy
          KILN_LAYER_STORE_MODE=$mode timed "$work/t" "$here/kiln" build -c "$work/ctx/fs$n" -d "$reg/bench/fs$n:$tool$i" \
            --insecure-registry "$reg" --cache-dir "$work/kiln-cache" --verbosity debug
          cp "$work/last.log" "$work/$tool-fs$n-$i.log" # step times: grep STEP
          grep -o 'root filesystem [^:]*: [a-z]* [0-9]* kept layers[^"]*' "$work/last.log" | head -1 >&2 || true
          ;;
        buildah)
          buildah "${bstore[@]}" rmi -a -f > /dev/null 2>&1 || true
          timed "$work/t" buildah "${bstore[@]}" bud --isolation chroot --layers=false --signature-policy "$work/buildah/policy.json" \
            --tls-verify=false -q -t "fs$n:$i" "$work/ctx/fs$n"
          timed "$work/t" buildah "${bstore[@]}" push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q \
            "fs$n:$i" "docker://$reg/bench/fs$n:buildah$i"
          ;;
      esac
      awk -v tool="$tool" -v n="$n" '{w+=$1; c+=$2+$3; if ($4>m) m=$4} END {printf "%s fs%s wall %.2f s cpu %.2f s rss %.0f MiB\n", tool, n, w, c, m/1024}' "$work/t"
    done
  done
done
echo "load: $(uptime)"
