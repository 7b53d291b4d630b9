#!/usr/bin/env bash
# System benchmark: jwg against Debian's wireguard-go, the modern wireguard-go (../shared/bin/wireguard-go-modern,
# skipped with a message when absent) and a bare veth, between two network namespaces, in one run. Needs root.
#
#   benchmarks/system-bench.sh [-t SECONDS] [-r ROUNDS] [--impls "veth wggo modern jwg"] [--no-mixed] [--no-extra]
#
# Also known to --impls: jwgnetty (jwg on Netty's UDP bind), jwgplain (jwg with every offload switched off).
# Per round and implementation (both ends the same): the mean RTT of the first 20 pings after the daemons start
# (50 ms apart: the cold figure, JIT warm-up included), iperf3 TCP for SECONDS, then 200 pings 10 ms apart (warm).
# Then the mixed pairs (jwg on one side, a wireguard-go on the other, TCP both ways), and the extra figures:
# 4 parallel TCP streams and 1280-byte UDP at a rate that saturates, jwg against the modern wireguard-go.
# At the end: medians over the rounds, and the ratios the targets are stated in. Tunnels have MTU 1420.
# Everything it creates (namespaces wgb-a/wgb-b, interfaces, processes) is removed on exit.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
secs=8 rounds=3 impls="veth wggo modern jwg" mixed=1 extra=1
while [ $# -gt 0 ]; do
  case "$1" in
    -t) secs=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --impls) impls=$2; shift 2 ;;
    --no-mixed) mixed=0; shift ;;
    --no-extra) extra=0; shift ;;
    [0-9]*) secs=$1; shift ;;   # the old single argument
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "system-bench: needs root (namespaces, TUN)" >&2; exit 1; }
for c in iperf3 ping wg wireguard-go python3; do
  command -v "$c" >/dev/null || { echo "system-bench: $c missing: apt-get install --no-install-recommends iperf3 iputils-ping wireguard-tools wireguard-go python3" >&2; exit 1; }
done
MODERN=$(readlink -f ../shared/bin/wireguard-go-modern 2>/dev/null || true)
if [ ! -x "$MODERN" ]; then
  echo "system-bench: ../shared/bin/wireguard-go-modern is absent: the modern wireguard-go is skipped" >&2
  impls=${impls//modern/}
fi
[ -f jwg/target/jwg.jar ] || { echo "system-bench: build first (./wgcni build)" >&2; exit 1; }

A=wgb-a B=wgb-b
tmp=$(mktemp -d)
cleanup() {
  for n in $A $B; do
    ip netns pids $n 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  sleep 0.3
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap 'cleanup; rm -rf "$tmp"' EXIT
cleanup
ip netns add $A; ip netns add $B
ip link add veth-wgb-a netns $A type veth peer name veth-wgb-b netns $B
ip -n $A addr add 10.97.0.1/24 dev veth-wgb-a; ip -n $B addr add 10.97.0.2/24 dev veth-wgb-b
for n in $A $B; do ip -n $n link set lo up; done
ip -n $A link set veth-wgb-a up; ip -n $B link set veth-wgb-b up

wg genkey > "$tmp/a"; wg genkey > "$tmp/b"; chmod 600 "$tmp/a" "$tmp/b"
pa=$(wg pubkey < "$tmp/a"); pb=$(wg pubkey < "$tmp/b")
results=$tmp/results   # lines: round key value

record() { echo "$round $1 $2" >> "$results"; }

# mean RTT in ms of COUNT pings INTERVAL apart from A to ADDR
rtt() {
  ip netns exec $A ping -c "$1" -i "$2" -W 1 -q "$3" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p'
}

# iperf3 from A to ADDR (extra iperf3 arguments follow); prints bits/s received (and loss % for UDP)
iperf() {
  local addr=$1; shift
  ip netns exec $B iperf3 -s -1 -D -B "$addr" -I "$tmp/iperf.pid" >/dev/null
  for _ in $(seq 1 50); do [ -s "$tmp/iperf.pid" ] && break; sleep 0.02; done
  sleep 0.2
  ip netns exec $A iperf3 -c "$addr" -t "$secs" -J "$@" > "$tmp/iperf.json" || true
  rm -f "$tmp/iperf.pid"
  python3 - "$tmp/iperf.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
e = d.get("end", {})
if "sum_received" in e:
    print(round(e["sum_received"]["bits_per_second"]))
elif "sum" in e:   # UDP: the receiver's view
    s = e["sum"]
    print(round(s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100)))
else:
    print(0)
PY
}

start() { # impl netns iface
  case "$1" in
    jwg) ip netns exec "$2" bin/jwg "$3" ;;
    jwgnetty) ip netns exec "$2" env JWG_JAVA_OPTS=-Dwgcni.udp.bind=netty bin/jwg "$3" ;;
    jwgplain) ip netns exec "$2" env WG_DISABLE_TUN_OFFLOAD=1 WG_DISABLE_UDP_GSO=1 WG_DISABLE_UDP_GRO=1 bin/jwg "$3" ;;
    wggo) ip netns exec "$2" wireguard-go "$3" >/dev/null 2>&1 ;;
    modern) ip netns exec "$2" "$MODERN" "$3" >/dev/null 2>&1 ;;
  esac
}

# Brings up the tunnel A(impl_a) <-> B(impl_b) on NET.1/NET.2 and returns once both daemons answer.
setup_wg() { # impl_a impl_b iface net
  local ia=$1 ib=$2 i=$3 net=$4
  start "$ia" $A "${i}a"; start "$ib" $B "${i}b"
  ip netns exec $A wg set "${i}a" private-key "$tmp/a" listen-port 51901 peer "$pb" allowed-ips "$net.2/32" endpoint 10.97.0.2:51902
  ip netns exec $B wg set "${i}b" private-key "$tmp/b" listen-port 51902 peer "$pa" allowed-ips "$net.1/32" endpoint 10.97.0.1:51901
  ip -n $A addr add "$net.1/24" dev "${i}a"; ip -n $B addr add "$net.2/24" dev "${i}b"
  ip -n $A link set "${i}a" mtu 1420 up; ip -n $B link set "${i}b" mtu 1420 up
}

teardown_wg() { # iface
  ip -n $A link del "${1}a" 2>/dev/null || true; ip -n $B link del "${1}b" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [ -z "$(ip netns pids $A; ip netns pids $B)" ] && break
    sleep 0.05
  done
  ip netns pids $A | xargs -r kill 2>/dev/null || true; ip netns pids $B | xargs -r kill 2>/dev/null || true
  sleep 0.3
}

mbit() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }

bench_same() { # impl
  local impl=$1 addr bps cold warm
  if [ "$impl" = veth ]; then
    addr=10.97.0.2; cold=$(rtt 20 0.05 $addr)
  else
    setup_wg "$impl" "$impl" wgb 10.98.1; addr=10.98.1.2
    cold=$(rtt 20 0.05 $addr)   # the first packet starts the handshake: it is part of a cold start
  fi
  bps=$(iperf $addr)
  warm=$(rtt 200 0.01 $addr)
  record "tcp.$impl" "$bps"; record "cold.$impl" "$cold"; record "warm.$impl" "$warm"
  printf '  %-8s TCP %6s Mbit/s   RTT cold (first 20) %6s ms   warm %6s ms\n' "$impl" "$(mbit "$bps")" "$cold" "$warm"
  if [ "$impl" != veth ] && [ "$extra" = 1 ] && { [ "$impl" = jwg ] || [ "$impl" = modern ]; }; then
    local p4 udp
    p4=$(iperf $addr -P 4); udp=$(iperf $addr -u -b 0 -l 1280)
    record "p4.$impl" "$p4"; record "udp.$impl" "$udp"
    printf '  %-8s TCP x4 %6s Mbit/s   UDP 1280 B %6s Mbit/s received\n' "$impl" "$(mbit "$p4")" "$(mbit "$udp")"
  fi
  [ "$impl" = veth ] || teardown_wg wgb
}

bench_mixed() { # other-impl
  local other=$1 out in
  setup_wg jwg "$other" wgm 10.98.2
  rtt 5 0.05 10.98.2.2 >/dev/null
  out=$(iperf 10.98.2.2)          # jwg sends, the other receives
  in=$(iperf 10.98.2.2 -R)        # the other sends, jwg receives
  record "jwg-to-$other" "$out"; record "$other-to-jwg" "$in"
  printf '  jwg -> %-7s %6s Mbit/s   %-7s -> jwg %6s Mbit/s\n' "$other" "$(mbit "$out")" "$other" "$(mbit "$in")"
  teardown_wg wgm
}

echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "iperf3 ${secs}s, $rounds rounds, jwg AEAD: $(grep -qw avx512ifma /proc/cpuinfo && echo 'IFMA (jdk)' || echo 'no IFMA (own)')"
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  for impl in $impls; do bench_same "$impl"; done
  if [ "$mixed" = 1 ] && [[ " $impls " == *" jwg "* ]]; then
    for other in $impls; do
      case "$other" in wggo|modern) bench_mixed "$other" ;; esac
    done
  fi
done

python3 - "$results" <<'PY'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    _, key, value = line.split()
    if value:
        vals.setdefault(key, []).append(float(value))
med = {k: statistics.median(v) for k, v in vals.items()}
print("medians over rounds (Mbit/s; RTT in ms):")
for k in sorted(med):
    v = med[k]
    print(f"  {k:22s} {v / 1e6 if not k.startswith(('cold', 'warm')) else v:10.3f}   ({', '.join(f'{x / 1e6:.0f}' if not k.startswith(('cold', 'warm')) else f'{x:.3f}' for x in vals[k])})")
def ratio(label, a, b, target):
    if a in med and b in med and med[b]:
        print(f"  {label:44s} {med[a] / med[b]:6.2f}x   {target}")
print("ratios (medians):")
ratio("jwg / modern wireguard-go TCP throughput", "tcp.jwg", "tcp.modern", "target >= 1.0 (aim 1.3)")
ratio("jwg / Debian wireguard-go TCP throughput", "tcp.jwg", "tcp.wggo", "")
ratio("jwg / Debian wireguard-go RTT, warm", "warm.jwg", "warm.wggo", "target <= 1.0")
ratio("jwg / Debian wireguard-go RTT, first 20 pings", "cold.jwg", "cold.wggo", "target <= 1.0")
ratio("jwg / modern wireguard-go RTT, warm", "warm.jwg", "warm.modern", "")
ratio("jwg / modern wireguard-go, 4 TCP streams", "p4.jwg", "p4.modern", "")
ratio("jwg / modern wireguard-go, UDP 1280 B", "udp.jwg", "udp.modern", "")
ratio("jwg -> modern / modern <-> modern", "jwg-to-modern", "tcp.modern", "")
ratio("modern -> jwg / modern <-> modern", "modern-to-jwg", "tcp.modern", "")
ratio("jwg / veth TCP throughput", "tcp.jwg", "tcp.veth", "")
ratio("jwg / jwg on Netty's UDP bind, TCP", "tcp.jwg", "tcp.jwgnetty", "")
ratio("jwg / jwg on Netty's UDP bind, RTT warm", "warm.jwg", "warm.jwgnetty", "")
ratio("jwg / jwg without offloads, TCP", "tcp.jwg", "tcp.jwgplain", "")
PY
