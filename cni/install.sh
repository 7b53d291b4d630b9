#!/usr/bin/env bash
# install.sh: install the wgcni CNI plugin and an example network configuration.
#   cni/install.sh [--prefix DIR] [--bin-dir DIR] [--conf-dir DIR] [--no-conf]
# Defaults: --bin-dir /opt/cni/bin, --conf-dir /etc/cni/net.d; --prefix is put in front of both.
# Installs <bin-dir>/wireguard (the launcher) and <bin-dir>/wireguard.d/ (the jars, a link to this JDK 25 and
# the AOT cache, trained here so that it matches these paths and this JDK), and <conf-dir>/10-wgcni.conflist
# unless a file of that name exists already. Build first: ./wgcni build (or ./wgcni test -pl cni -am -DskipTests).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)

prefix="" bin_dir=/opt/cni/bin conf_dir=/etc/cni/net.d with_conf=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --conf-dir) conf_dir=$2; shift 2 ;;
    --no-conf) with_conf=0; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin_dir=$prefix$bin_dir
conf_dir=$prefix$conf_dir

. "$src/../bin/jdk.sh"
java_home=$(find_jdk install.sh) || exit 1

jars=("$src/target/cni.jar" "$src/target/lib/api.jar")   # the whole class path: api for its JDK-only Names and Framing
for jar in "${jars[@]}"; do
  [ -f "$jar" ] || { echo "install.sh: $jar is missing: run ./wgcni build first" >&2; exit 1; }
done

mkdir -p "$bin_dir/wireguard.d"
bin_dir=$(cd "$bin_dir" && pwd)   # runtimes run the plugin by its absolute path: the AOT cache must match it
lib=$bin_dir/wireguard.d
rm -f "$lib"/*
cp "${jars[@]}" "$lib/"
ln -sfn "$java_home/bin/java" "$lib/java"

cp "$src/bin/wireguard" "$bin_dir/wireguard.new"
chmod 755 "$bin_dir/wireguard.new"
mv "$bin_dir/wireguard.new" "$bin_dir/wireguard"

# The AOT cache records the class path and the jars: train it where the launcher will find it, with the
# launcher's own flags. A failure only costs start-up time, so it warns instead of failing the installation.
log=$(mktemp)
if "$bin_dir/wireguard" --train-aot "$lib/cni.aot.new" >"$log" 2>&1 && [ -s "$lib/cni.aot.new" ]; then
  mv "$lib/cni.aot.new" "$lib/cni.aot"
else
  echo "install.sh: warning: the AOT cache could not be built; the plugin starts slower. Output:" >&2
  cat "$log" >&2
  rm -f "$lib/cni.aot.new"
fi
rm -f "$log"
echo "install.sh: installed $bin_dir/wireguard"

if [ "$with_conf" = 1 ]; then
  mkdir -p "$conf_dir"
  if [ -e "$conf_dir/10-wgcni.conflist" ]; then
    echo "install.sh: kept the existing $conf_dir/10-wgcni.conflist"
  else
    cp "$src/examples/10-wgcni.conflist" "$conf_dir/10-wgcni.conflist"
    echo "install.sh: installed $conf_dir/10-wgcni.conflist"
  fi
fi
