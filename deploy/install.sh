#!/usr/bin/env bash
# Installs a built wgcni (./wgcni build) on this host, as root:
#   /opt/wgcni                 launchers (bin/cluster-manager, bin/node-manager, bin/jwg) and their jars
#   /etc/systemd/system        wgcni-cluster-manager.service, wgcni-node-manager.service (not started)
#   /opt/cni/bin, /etc/cni/net.d   the CNI plugin "wireguard" and an example conflist (cni/install.sh)
#   /usr/local/bin             links to the three launchers
# Usage: deploy/install.sh [--from REPO] [--prefix /opt/wgcni]
set -euo pipefail
from=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
prefix=/opt/wgcni
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    *) echo "usage: $0 [--from REPO] [--prefix DIR]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
for m in cluster-manager node-manager jwg; do
  [ -f "$from/$m/target/$m.jar" ] || { echo "install.sh: $from/$m/target/$m.jar is missing: run ./wgcni build" >&2; exit 1; }
done

install -d "$prefix/bin"
for m in cluster-manager node-manager jwg; do
  rm -rf "$prefix/$m/target"
  install -d "$prefix/$m/target/lib"
  install -m 0644 "$from/$m/target/$m.jar" "$prefix/$m/target/"
  install -m 0644 "$from/$m/target/lib/"*.jar "$prefix/$m/target/lib/"
done
install -m 0644 "$from/bin/jdk.sh" "$prefix/bin/jdk.sh"
for b in cluster-manager node-manager jwg; do
  install -m 0755 "$from/bin/$b" "$prefix/bin/$b"
  ln -sfn "$prefix/bin/$b" "/usr/local/bin/$b"
done
install -m 0644 "$from/README.md" "$prefix/README.md"
# node-manager's AOT cache records the class path: train it where it is installed (a restart gets back sooner).
aot="$prefix/node-manager/target/node-manager.aot"
if "$prefix/bin/node-manager" --train-aot "$aot.new" >/dev/null 2>&1 && [ -s "$aot.new" ]; then
  mv "$aot.new" "$aot"
else
  rm -f "$aot.new"; echo "install.sh: warning: no AOT cache for node-manager; it starts slower" >&2
fi
install -m 0644 "$from/deploy/systemd/"*.service /etc/systemd/system/
install -d -m 0700 /etc/wgcni
"$from/cni/install.sh"
command -v systemctl >/dev/null && systemctl daemon-reload || true
echo "install.sh: installed into $prefix; configure /etc/wgcni/*.env, then systemctl enable --now wgcni-node-manager"
