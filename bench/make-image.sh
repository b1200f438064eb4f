#!/usr/bin/env bash
# make-image.sh DIR LAYERS MIB_PER_LAYER: writes an OCI image layout of incompressible layers (random
# files, gzip -1) so a pull moves about LAYERS × MIB_PER_LAYER MiB; tagged "1".
set -euo pipefail
dir=$1 layers=$2 mib=$3
rm -rf "$dir" && mkdir -p "$dir/blobs/sha256"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layer_json="" diff_ids=""
for i in $(seq 1 "$layers"); do
  mkdir -p "$work/l$i/data"
  head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/l$i/data/payload-$i"
  tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/l$i" -cf "$work/l$i.tar" .
  gzip -1 -n -c "$work/l$i.tar" > "$work/l$i.tar.gz"
  d=$(sha256sum "$work/l$i.tar.gz" | cut -d' ' -f1); s=$(stat -c %s "$work/l$i.tar.gz")
  cp "$work/l$i.tar.gz" "$dir/blobs/sha256/$d"
  diff_ids+="${diff_ids:+,}\"sha256:$(sha256sum "$work/l$i.tar" | cut -d' ' -f1)\""
  layer_json+="${layer_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$s}"
done
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff_ids" > "$work/config.json"
c=$(sha256sum "$work/config.json" | cut -d' ' -f1); cs=$(stat -c %s "$work/config.json"); cp "$work/config.json" "$dir/blobs/sha256/$c"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$c" "$cs" "$layer_json" > "$work/manifest.json"
m=$(sha256sum "$work/manifest.json" | cut -d' ' -f1); ms=$(stat -c %s "$work/manifest.json"); cp "$work/manifest.json" "$dir/blobs/sha256/$m"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "$m" "$ms" > "$dir/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
