#!/bin/sh
# What the RUN sandbox adds to a one-line RUN (RUN true): bare fork/exec from the JVM, in-place,
# namespaces as root and in a user namespace; ROUNDS timed runs each after 5 warm-ups. Needs root
# (the namespace sandbox's root variant) and a compiled tree (mvn test-compile).
# Usage: bench/sandbox-cost.sh [ROUNDS [CASE]]  (CASE: a part of the case names, e.g. "as root, RUN")
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-25}
CP_FILE=target/bench-classpath.txt
# no lock here: like a compile it runs no test, and the caller may hold the Maven lock already
# (flock /tmp/kiln-maven.lock bash bench/sandbox-cost.sh), which a nested flock would wait on forever
[ -s "$CP_FILE" ] || mvn -B -q -o dependency:build-classpath -Dmdep.outputFile="$CP_FILE" >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(uname -r)"
exec java -cp "target/test-classes:target/classes:$(cat "$CP_FILE")" dev.kiln.builder.sandbox.SandboxCost "$ROUNDS" "${2:-}"
