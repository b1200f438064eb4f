#!/usr/bin/env bash
# Whole-process cost of Kiln's short commands, one JVM set-up against another (issue 13):
#   `kiln --version`; `kiln build` of a small Dockerfile (busybox from a local docker-registry, ENV, COPY,
#   COPY, RUN, push); the same build fully cached (--cache, after one warm-up build per variant; buildah:
#   bud --layers on kept storage); `kiln submit` of the same context to a running gateway (client process only).
# Each variant runs ROUNDS times (default 5), interleaved so that a change of load hits every variant alike;
# prints median wall and CPU (user+sys) seconds and peak RSS. Needs the packaged jar (mvn package).
#   VARIANTS="launcher launcher25 jdk25-aot …" picks some (default: launcher launcher25 buildah); JAVA25=/path/to/jdk-25/bin/java for the AOT ones.
# Variants:
#   before     java 17 -jar of an older build (BEFORE_APP=…/quarkus-app), C1 + serial GC
#   launcher   what ./kiln runs on Java 17: jar, C1 + serial GC and the archive scripts/cds-archive trains
#   launcher25 what ./kiln runs on Java 25: kiln-cli.jar, C1 + serial GC and the AOT cache scripts/aot-cache trains
#   before25   the same with another version of scripts/aot-cache (BEFORE_AOT_SCRIPT=file): its kiln-cli.jar and its training
#   jar        java 17 -jar quarkus-run.jar (Quarkus' runner class loader), C1 + serial GC (the launcher before)
#   jar-cds    the same with a dynamic AppCDS archive of a training build (-XX:ArchiveClassesAtExit)
#   cp         java 17, a plain class path: kiln-cli.jar, a manifest-only jar naming app/ and lib/ (no Quarkus runner)
#   cp-cds     the same with a dynamic AppCDS archive of a training build
#   jdk25      java 25, the plain class path, no cache
#   jdk25-aot  java 25, the plain class path and an AOT cache of a training build (-XX:AOTCacheOutput, JEP 483/514/515)
#   jar25-aot  java 25, -jar quarkus-run.jar and an AOT cache of a training build
#   buildah    buildah bud + push of the same Dockerfile (the build only; no version or submit)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds="${ROUNDS:-5}"
variants="${VARIANTS:-${BEFORE_APP:+before }launcher launcher25 buildah}"
java25="${JAVA25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
work="${WORK:-$(mktemp -d /tmp/kiln-cli-startup.XXXXXX)}"
reg_port="${REG_PORT:-5371}" gw_port="${GW_PORT:-5372}"
reg="127.0.0.1:$reg_port" gw="127.0.0.1:$gw_port"
flags="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
src_app="${APP:-$here/target/quarkus-app}"   # APP=…/quarkus-app: another build of the jar
[ -f "$src_app/quarkus-run.jar" ] || { echo "cli-startup: run mvn package first" >&2; exit 1; }

mkdir -p "$work"

# A copy of the app, so the archives' recorded jar times stay valid whatever Maven does to target/ meanwhile.
app="$work/app"
rm -rf "$app" "$work"/*.jsa "$work"/*.aot && cp -a "$src_app" "$app"
# kiln-cli.jar: Main-Class KilnMain and a Class-Path of the app jar then every library (relative to app/)
if [ ! -f "$app/kiln-cli.jar" ]; then
  { echo "Main-Class: dev.kiln.app.cli.KilnMain"
    (cd "$app" && ls app/*.jar lib/main/*.jar lib/boot/*.jar) | tr '\n' ' ' | sed 's/ $//' | fold -w 58 | sed '1s/^/Class-Path: /; 2,$s/^/ /'
    echo   # a manifest's last line counts only when it ends with a newline
  } > "$work/manifest.txt"
  (cd "$work" && jar --create --file "$app/kiln-cli.jar" --manifest manifest.txt)
fi

bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" busybox >&2

ctx="$work/ctx"
mkdir -p "$ctx/conf"
echo hello > "$ctx/a.txt"; echo "x=1" > "$ctx/conf/app.conf"
cat > "$ctx/Dockerfile" <<DF
FROM $reg/busybox:latest
ENV APP_HOME=/opt/app
COPY conf/ /etc/app/
COPY a.txt /opt/app/
RUN cat /etc/app/app.conf /opt/app/a.txt > /opt/app/all.txt
DF
gctx="$work/gctx"
cp -a "$ctx" "$gctx" && sed -i "s#FROM $reg/#FROM bench.test/#" "$gctx/Dockerfile"

java $flags -Xmx256m -jar "$app/quarkus-run.jar" serve --port "$gw_port" --store "$work/store" \
  --upstream "bench.test=http://$reg" > "$work/gateway.log" 2>&1 & pids+=($!)
wait_http "http://$gw/v2/"

# kiln VARIANT ARGS…: runs Kiln as that variant
kiln() {
  local v="$1"; shift
  # shellcheck disable=SC2086
  case "$v" in
    before) java $flags -jar "$BEFORE_APP/quarkus-run.jar" "$@" ;;
    jar) java $flags -jar "$app/quarkus-run.jar" "$@" ;;
    launcher) java $flags -XX:SharedArchiveFile="$launcher_archive" -Xshare:auto -Xlog:cds=off,cds+dynamic=off \
      -jar "$app/quarkus-run.jar" "$@" ;;
    launcher25) "$java25" $flags -XX:AOTCache="$launcher_cache" -Xlog:aot=off,cds=off -jar "$app/kiln-cli.jar" "$@" ;;
    before25) "$java25" $flags -XX:AOTCache="$before_cache" -Xlog:aot=off,cds=off -jar "$work/app-before/kiln-cli.jar" "$@" ;;
    jar-cds) java $flags -XX:SharedArchiveFile="$work/jar.jsa" -Xshare:auto -jar "$app/quarkus-run.jar" "$@" ;;
    cp) java $flags -jar "$app/kiln-cli.jar" "$@" ;;
    cp-cds) java $flags -XX:SharedArchiveFile="$work/cp.jsa" -jar "$app/kiln-cli.jar" "$@" ;;
    jdk25) "$java25" $flags -jar "$app/kiln-cli.jar" "$@" ;;
    jdk25-aot) "$java25" $flags -XX:AOTCache="$work/cp.aot" -jar "$app/kiln-cli.jar" "$@" ;;
    jar25-aot) "$java25" $flags -XX:AOTCache="$work/jar.aot" -jar "$app/quarkus-run.jar" "$@" ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
}
export -f kiln
export flags app work java25 BEFORE_APP launcher_archive launcher_cache before_cache
build_args() { echo build -c "$ctx" -d "$reg/bench/small:$1" --insecure-registry "$reg"; }
cached_args() { echo build -c "$ctx" -d "$reg/bench/small:cached-$1" --insecure-registry "$reg" --cache --cache-repo "$reg/bench/cache-$1"; }
submit_args() { echo submit --gateway "http://$gw" -t "$gw/local/small:$1" "$gctx"; }

# training runs: a build and a submit each (the archive of a dynamic dump or an AOT cache comes from one run)
train() { # variant-prefix java-options…
  local out="$1"; shift
  # shellcheck disable=SC2046
  "$@" $(build_args train) > "$work/train-$out.log" 2>&1
}
launcher_archive="" launcher_cache="" before_cache=""
for v in $variants; do
  # shellcheck disable=SC2086
  case "$v" in
    launcher) . "$here/scripts/cds-archive"; rm -rf "$work/target"; launcher_archive="$(kiln_cds_archive "$work" "$app/quarkus-run.jar")" ;;
    launcher25) . "$here/scripts/aot-cache"; rm -f "$app/kiln-cli.jar"
      launcher_cache="$(kiln_aot_cache "$work/aot" "$java25" "$(kiln_cli_jar "$app")")" ;;
    before25) rm -rf "$work/app-before" && cp -a "$src_app" "$work/app-before" && rm -f "$work/app-before/kiln-cli.jar"
      # shellcheck disable=SC1090
      before_cache="$(. "$BEFORE_AOT_SCRIPT" && kiln_aot_cache "$work/aot-before" "$java25" "$(kiln_cli_jar "$work/app-before")")" ;;
    jar-cds) train jar java $flags -XX:ArchiveClassesAtExit="$work/jar.jsa" -jar "$app/quarkus-run.jar" ;;
    cp-cds) train cp java $flags -XX:ArchiveClassesAtExit="$work/cp.jsa" -jar "$app/kiln-cli.jar" ;;
    jdk25-aot) train cp25 "$java25" $flags -XX:AOTCacheOutput="$work/cp.aot" -jar "$app/kiln-cli.jar" ;;
    jar25-aot) train jar25 "$java25" $flags -XX:AOTCacheOutput="$work/jar.aot" -jar "$app/quarkus-run.jar" ;;
  esac
done

buildah_dir="$work/buildah"
bench_buildah_conf "$buildah_dir" "$reg"
buildah_small() {
  local b=(buildah --root "$buildah_dir/root" --runroot "$buildah_dir/runroot" --storage-driver overlay)
  CONTAINERS_REGISTRIES_CONF="$buildah_dir/registries.conf" "${b[@]}" bud --isolation chroot \
    --signature-policy "$buildah_dir/policy.json" --tls-verify=false -q -t "small:$1" "$ctx" &&
  CONTAINERS_REGISTRIES_CONF="$buildah_dir/registries.conf" "${b[@]}" push --signature-policy "$buildah_dir/policy.json" \
    --tls-verify=false -q "small:$1" "docker://$reg/bench/small:buildah-$1" &&
  "${b[@]}" rmi -a -f > /dev/null 2>&1
}
buildah_cached() { # bud --layers on storage that keeps the layers of the warm-up build
  local b=(buildah --root "$buildah_dir/cached-root" --runroot "$buildah_dir/cached-runroot" --storage-driver overlay)
  CONTAINERS_REGISTRIES_CONF="$buildah_dir/registries.conf" "${b[@]}" bud --layers --isolation chroot \
    --signature-policy "$buildah_dir/policy.json" --tls-verify=false -q -t "small:cached" "$ctx" &&
  CONTAINERS_REGISTRIES_CONF="$buildah_dir/registries.conf" "${b[@]}" push --signature-policy "$buildah_dir/policy.json" \
    --tls-verify=false -q "small:cached" "docker://$reg/bench/small:buildah-cached"
}
export -f buildah_small buildah_cached
export buildah_dir reg ctx

# timed FILE CMD…: appends "wall cpu rss_kib" (GNU time, the whole process tree)
timed() {
  local out="$1"; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
  awk '{print $1, $2 + $3, $4}' "$work/t" >> "$out"
}
for v in $variants; do # warm-up: fills each variant's layer cache
  # shellcheck disable=SC2046
  if [ "$v" = buildah ]; then buildah_cached; else kiln "$v" $(cached_args "$v"); fi > "$work/warm-$v.log" 2>&1
done
for i in $(seq 1 "$rounds"); do
  for v in $variants; do
    if [ "$v" = buildah ]; then
      timed "$work/$v.build" bash -c 'buildah_small "$1"' _ "$i"
      timed "$work/$v.cached" bash -c 'buildah_cached'
      continue
    fi
    timed "$work/$v.version" bash -c 'kiln "$@"' _ "$v" --version
    # shellcheck disable=SC2046
    timed "$work/$v.build" bash -c 'kiln "$@"' _ "$v" $(build_args "$v-$i")
    # shellcheck disable=SC2046
    timed "$work/$v.submit" bash -c 'kiln "$@"' _ "$v" $(submit_args "$v-$i")
    # shellcheck disable=SC2046
    timed "$work/$v.cached" bash -c 'kiln "$@"' _ "$v" $(cached_args "$v")
  done
done

echo "| variant | --version wall s | --version CPU s | build wall s | build CPU s | build peak RSS MiB | cached build wall s | cached build CPU s | submit wall s | submit CPU s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
col() { [ -f "$1" ] && awk -v c="$2" '{print $c}' "$1" | median || echo -; }
for v in $variants; do
  rss=$(col "$work/$v.build" 3); [ "$rss" = - ] || rss=$(awk -v k="$rss" 'BEGIN {printf "%.0f", k/1024}')
  echo "| $v | $(col "$work/$v.version" 1) | $(col "$work/$v.version" 2) | $(col "$work/$v.build" 1) | $(col "$work/$v.build" 2) | $rss | $(col "$work/$v.cached" 1) | $(col "$work/$v.cached" 2) | $(col "$work/$v.submit" 1) | $(col "$work/$v.submit" 2) |"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw numbers in $work" >&2
