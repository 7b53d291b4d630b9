#!/usr/bin/env bash
# bench.sh: CNI ADD/DEL latency (p50, p99 over 100 runs) and 20 concurrent ADDs, the wgcni plugin against a real
# node-manager beside the reference bridge + host-local plugins (Debian's containernetworking-plugins), in the
# same run. Needs root, the packaged modules (./wgcni test -pl cni -am -DskipTests) and
# apt-get install --no-install-recommends containernetworking-plugins.
#   cni/bench.sh [-Druns=100] [-Dconcurrent=20]
# Prints a Markdown table. Everything it creates (namespaces named cn*, temporary directories) is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${WGCNI_ROOT:-$(dirname "$here")}   # where bin/node-manager and bin/cluster-manager are built
. "$root/bin/jdk.sh"
java_home=$(find_jdk bench.sh) || exit 1
for f in "$here/target/wireguard" "$here/target/test-classes/io/wgcni/cni/CniBenchmark.class" \
         "$root/node-manager/target/node-manager.jar" "$root/cluster-manager/target/cluster-manager.jar"; do
  [ -e "$f" ] || { echo "bench.sh: $f is missing: run ./wgcni test -pl cni -am -DskipTests first" >&2; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || { echo "bench.sh: apt-get install containernetworking-plugins" >&2; exit 1; }
cd "$here"
exec "$java_home/bin/java" -Dwgcni.root="$root" "$@" -cp "$here/target/test-classes:$here/target/classes" \
  io.wgcni.cni.CniBenchmark "$here/target/wireguard"
