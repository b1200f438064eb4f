#!/usr/bin/env bash
# The builder issue's snapshot goal: the snapshot of a one-file RUN on a 100k-file rootfs, walking
# snapshotter against overlay snapshotter, median of ROUNDS (after one warm-up round). Runs the
# test-scope main dev.kiln.builder.snapshot.SnapshotBench through the real namespace sandbox; needs
# root (or a kernel that allows overlayfs in a user namespace), util-linux and a static busybox.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
files="${FILES:-100000}"
rounds="${ROUNDS:-5}"
work="${WORK:-/tmp/kiln-bench-snapshot}"
cd "$here"
if [ ! -f target/test-classes/dev/kiln/builder/snapshot/SnapshotBench.class ] || [ ! -f target/bench.classpath ]; then
    mvn -o -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
fi
java ${KILN_JAVA_OPTS:-} -cp "target/classes:target/test-classes:$(cat target/bench.classpath)" \
    dev.kiln.builder.snapshot.SnapshotBench "$work" "$files" "$rounds"
