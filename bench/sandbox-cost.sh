#!/bin/sh
# What the RUN sandbox adds to a one-line RUN (RUN true): bare fork/exec from the JVM, in-place,
# namespaces as root and in a user namespace; ROUNDS timed runs each after 5 warm-ups. Needs root
# (the namespace sandbox's root variant) and a compiled tree (mvn test-compile).
# Usage: bench/sandbox-cost.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-25}
CP_FILE=target/bench-classpath.txt
[ -s "$CP_FILE" ] || flock /tmp/kiln-maven.lock mvn -B -q -o dependency:build-classpath -Dmdep.outputFile="$CP_FILE" >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(uname -r)"
exec java -cp "target/test-classes:target/classes:$(cat "$CP_FILE")" dev.kiln.builder.sandbox.SandboxCost "$ROUNDS"
