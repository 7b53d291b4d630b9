#!/usr/bin/env bash
# The node-manager benchmark: run as root after `./wgcni test -pl node-manager -am -DskipTests` (or a build).
#   node-manager/bench.sh [SECONDS-PER-IPERF3-RUN]   (default 10)
# Starts a local cluster of two nodes (namespaces nm*), measures container-to-container TCP throughput with iperf3
# across the nodes and on one node, then the latency of 100 Attach calls and node-manager's RSS per 100 containers.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
root=$(dirname "$here")
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -d "$here/target/test-classes" ] || { echo "bench.sh: build first: ./wgcni test -pl node-manager -am -DskipTests" >&2; exit 1; }
exec "$java_home/bin/java" --enable-native-access=ALL-UNNAMED -Dwgcni.root="$root" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap=error \
  -cp "$here/target/test-classes:$here/target/node-manager.jar:$here/target/lib/*" io.wgcni.node.NodeBenchmark "$@"
