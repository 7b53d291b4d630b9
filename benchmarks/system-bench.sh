#!/usr/bin/env bash
# System benchmark: TCP throughput (iperf3) and ping RTT between two network namespaces, over
#   raw veth, wireguard-go (Debian's) and jwg, in one run, with the ratios. Needs root.
#   benchmarks/system-bench.sh [seconds-per-iperf-run (default 10)]
# Everything it creates (namespaces wgb-a/wgb-b, interfaces, processes) is removed on exit.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
secs=${1:-10}
[ "$(id -u)" = 0 ] || { echo "system-bench: needs root (namespaces, TUN)" >&2; exit 1; }
for c in iperf3 ping wg wireguard-go; do
  command -v "$c" >/dev/null || { echo "system-bench: $c missing: apt-get install --no-install-recommends iperf3 iputils-ping wireguard-tools wireguard-go" >&2; exit 1; }
done
[ -f tun-linux/target/tun-linux.jar ] || ./wgcni build -q

A=wgb-a B=wgb-b
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add $A; ip netns add $B
ip link add veth-wgb-a netns $A type veth peer name veth-wgb-b netns $B
ip -n $A addr add 10.97.0.1/24 dev veth-wgb-a; ip -n $B addr add 10.97.0.2/24 dev veth-wgb-b
for n in $A $B; do ip -n $n link set lo up; done
ip -n $A link set veth-wgb-a up; ip -n $B link set veth-wgb-b up

tmp=$(mktemp -d); trap 'cleanup; rm -rf "$tmp"' EXIT
ka=$(wg genkey); kb=$(wg genkey)
echo "$ka" > "$tmp/a"; echo "$kb" > "$tmp/b"; chmod 600 "$tmp/a" "$tmp/b"
pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)

measure() { # label server-address
  local label=$1 addr=$2 key=$3
  ip netns exec $B iperf3 -s -1 -D -B "$addr" >/dev/null
  sleep 0.3
  local bps rtt
  bps=$(ip netns exec $A iperf3 -c "$addr" -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
  rtt=$(ip netns exec $A ping -c 200 -i 0.01 -q "$addr" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
  printf '%-14s %8.0f Mbit/s   RTT %s ms\n' "$label" "$(echo "$bps / 1000000" | bc -l)" "$rtt"
  eval "bps_$key=$bps; rtt_$key=$rtt"
}

setup_wg() { # impl iface-a iface-b inner-prefix
  local impl=$1 ia=$2 ib=$3 net=$4
  if [ "$impl" = jwg ]; then
    ip netns exec $A bin/jwg "$ia"; ip netns exec $B bin/jwg "$ib"
  else
    ip netns exec $A wireguard-go "$ia"; ip netns exec $B wireguard-go "$ib"
  fi
  ip netns exec $A wg set "$ia" private-key "$tmp/a" listen-port 51901 peer "$pb" allowed-ips "$net.2/32" endpoint 10.97.0.2:51902
  ip netns exec $B wg set "$ib" private-key "$tmp/b" listen-port 51902 peer "$pa" allowed-ips "$net.1/32" endpoint 10.97.0.1:51901
  ip -n $A addr add "$net.1/24" dev "$ia"; ip -n $B addr add "$net.2/24" dev "$ib"
  ip -n $A link set "$ia" up mtu 1420; ip -n $B link set "$ib" up mtu 1420
  ip netns exec $A ping -c 1 -W 5 "$net.2" >/dev/null
}

teardown_wg() {
  ip -n $A link del "$1" 2>/dev/null || true; ip -n $B link del "$2" 2>/dev/null || true
  sleep 1
}

echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), iperf3 ${secs}s per run"
measure "veth" 10.97.0.2 veth
setup_wg wireguard-go wgbga wgbgb 10.98.1
measure "wireguard-go" 10.98.1.2 wggo
teardown_wg wgbga wgbgb
setup_wg jwg wgbja wgbjb 10.98.2
measure "jwg" 10.98.2.2 jwg
teardown_wg wgbja wgbjb
printf 'jwg / wireguard-go throughput: %.2fx (target >= 2x)\n' "$(echo "$bps_jwg / $bps_wggo" | bc -l)"
printf 'jwg / wireguard-go RTT:        %.2fx (target <= 1x)\n' "$(echo "$rtt_jwg / $rtt_wggo" | bc -l)"
printf 'jwg / veth throughput:         %.3fx\n' "$(echo "$bps_jwg / $bps_veth" | bc -l)"
