#!/usr/bin/env bash
# bench.sh: CNI ADD/DEL latency (p50, p99 over 100 runs) and 20 concurrent ADDs, the wgcni plugin against a real
# node-manager beside the reference bridge + host-local plugins (Debian's containernetworking-plugins), in the
# same run. Needs root, the packaged modules (./wgcni test -pl e2e -am -DskipTests) and
# apt-get install --no-install-recommends containernetworking-plugins.
#   cni/bench.sh [-Druns=100] [-Dconcurrent=20]
# Prints a Markdown table. Everything it creates (namespaces named nm*, temporary directories) is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${WGCNI_ROOT:-$(dirname "$here")}   # where bin/node-manager and bin/cluster-manager are built
. "$root/bin/jdk.sh"
java_home=$(find_jdk bench.sh) || exit 1
# The benchmark is e2e's (it needs node-manager's LocalCluster); its class path is what e2e's tests run with.
cp="$root/e2e/target/test-classes:$root/cni/target/test-classes:$root/cni/target/classes"
cp="$cp:$root/node-manager/target/test-classes:$root/wg-core/target/test-classes"
cp="$cp:$root/node-manager/target/node-manager.jar:$root/node-manager/target/lib/*"
for f in "$here/target/wireguard" "$root/e2e/target/test-classes/io/wgcni/e2e/CniBenchmark.class" \
         "$root/node-manager/target/test-classes/io/wgcni/node/LocalCluster.class" \
         "$root/node-manager/target/node-manager.jar" "$root/cluster-manager/target/cluster-manager.jar"; do
  [ -e "$f" ] || { echo "bench.sh: $f is missing: run ./wgcni test -pl e2e -am -DskipTests first" >&2; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || { echo "bench.sh: apt-get install containernetworking-plugins" >&2; exit 1; }
cd "$here"
exec "$java_home/bin/java" --enable-native-access=ALL-UNNAMED -Dwgcni.root="$root" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn "$@" -cp "$cp" io.wgcni.e2e.CniBenchmark "$here/target/wireguard"
