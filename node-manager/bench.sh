#!/usr/bin/env bash
# The node-manager benchmark: run as root after `./wgcni build` (or a build of node-manager's tests).
#   node-manager/bench.sh [SECONDS-PER-IPERF3-RUN [ROUNDS [PATHS]]]   (default 8 s, 3 rounds, every path)
#   PATHS: a comma-separated subset of jwg,across,one,node,full
# Starts a local cluster of two nodes (namespaces nm*); per round, jwg <-> jwg between two namespaces
# (benchmarks/system-bench.sh), then container -> container across the nodes, on one node, and container -> the
# other node's address: iperf3 TCP and RTT. Medians and ratios to jwg at the end, then a full node (110 containers:
# threads, live heap, RSS, attach latency, every container reaching the other node).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
root=$(dirname "$here")
. "$root/bin/jdk.sh"
java_home=$(find_jdk bench.sh) || exit 1
[ -d "$here/target/test-classes" ] || { echo "bench.sh: build first: ./wgcni test -pl node-manager -am -DskipTests" >&2; exit 1; }
exec "$java_home/bin/java" --enable-native-access=ALL-UNNAMED -Dwgcni.root="$root" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap=error \
  -cp "$here/target/test-classes:$here/target/node-manager.jar:$here/target/lib/*" io.wgcni.node.NodeBenchmark "$@"
