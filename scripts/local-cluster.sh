#!/usr/bin/env bash
# A whole wgcni cluster on one machine: ./wgcni up | status | down | graph (run as root).
#
# Every node is a network namespace running a real node-manager; the cluster-manager runs on this host on its
# embedded store; every container is a namespace attached through the real CNI plugin. The namespaces meet on
# a bridge inside a namespace of their own ("wgcni-hub"), so the host's firewall never sees their traffic; the
# host only gets one veth ("wgcni0", 172.31.254.254/24) on which the cluster-manager listens.
#
# Everything it makes is named wgcni-*; everything it writes is under the data directory
# (WGCNI_LOCAL_DIR, default /var/lib/wgcni-local). `down` removes all of it but the data directory's logs.
set -Eeuo pipefail

root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
DATA=${WGCNI_LOCAL_DIR:-/var/lib/wgcni-local}
STATE=$DATA/cluster.env
HUB=wgcni-hub
HOST_LINK=wgcni0
UNDERLAY=172.31.254
CM_BIN=$root/bin/cluster-manager
NM_BIN=$root/bin/node-manager
PLUGIN=$root/cni/bin/wireguard

say() { printf '%s\n' "$*" >&2; }
die() { printf 'wgcni: %s\n' "$*" >&2; exit "${2:-1}"; }
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

usage() {
  cat >&2 <<'EOF'
Usage: ./wgcni up [--nodes N] [--containers M] [--port P] [--ha [--replicas R]]
       ./wgcni status | down | graph
  up       start a cluster-manager, N nodes (default 3) and M containers per node (default 2), then prove the mesh
           --ha: a 3-member etcd on this host's loopback (ports 23791-23793, 23801-23803; data in the data
           directory) and R cluster-manager replicas on it (2 or 3, default 3; ports P, P+1, ...); every
           node-manager is given all of them
  status   the table of nodes and the reachability checks of a running cluster
  down     stop everything and remove what up made (the logs stay in the data directory)
  graph    the mesh as Graphviz DOT on stdout, and data-dir/mesh.svg when `dot` is installed
Environment: WGCNI_LOCAL_DIR (default /var/lib/wgcni-local)
EOF
}

node_ns() { echo "wgcni-node$1"; }
ctr_ns() { echo "wgcni-node$1-c$2"; }
node_if() { echo "wgcni-n$1"; }
node_dir() { echo "$DATA/node$1"; }

running() {
  [ -f "$STATE" ] || return 1
  local pid
  for pid in $(cat "$DATA"/*.pid "$DATA"/node*/*.pid 2>/dev/null); do
    kill -0 "$pid" 2>/dev/null && return 0
  done
  return 1
}

load_state() {
  [ -f "$STATE" ] || die "no cluster is running (start one with ./wgcni up)"
  # shellcheck disable=SC1090
  . "$STATE"
}

# Waits until a log file holds a line, or the process is gone, or the time is up.
wait_for_line() {
  local log=$1 pattern=$2 pid=$3 seconds=$4 what=$5 i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -q "$pattern" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { say "--- $log"; tail -n 20 "$log" >&2; die "$what exited before it was ready"; }
    sleep 0.1
  done
  say "--- $log"; tail -n 20 "$log" >&2
  die "$what was not ready after ${seconds}s"
}

cni() { # cni COMMAND NODE CONTAINER: runs the plugin as a runtime would
  local cmd=$1 n=$2 c=$3
  printf '{"cniVersion":"1.0.0","name":"wgcni","type":"wireguard","socket":"%s/cni.sock"}' "$(node_dir "$n")" |
    CNI_COMMAND=$cmd CNI_CONTAINERID="local-node$n-c$c" CNI_NETNS="/var/run/netns/$(ctr_ns "$n" "$c")" \
      CNI_IFNAME=eth0 CNI_PATH="$root/cni/bin" "$PLUGIN"
}

container_addr() { # the container's IPv4 address, from its own interface
  ip -n "$(ctr_ns "$1" "$2")" -4 -o addr show dev eth0 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}'
}

cmd_up() {
  local nodes=3 containers=2 port=7443 ha=0 replicas=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --ha) ha=1; [ "$replicas" -gt 1 ] || replicas=3; shift ;;
      --replicas) replicas=${2:-}; shift 2 ;;
      --nodes) nodes=${2:-}; shift 2 ;;
      --containers) containers=${2:-}; shift 2 ;;
      --port) port=${2:-}; shift 2 ;;
      -h|--help) usage; return 0 ;;
      *) usage; die "unknown argument '$1'" 2 ;;
    esac
  done
  [[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 50 ] || die "--nodes must be a number from 1 to 50 (got '$nodes')" 2
  [[ "$containers" =~ ^[0-9]+$ ]] && [ "$containers" -le 50 ] || die "--containers must be a number from 0 to 50 (got '$containers')" 2
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "--port must be a port number (got '$port')" 2
  if [ "$ha" = 1 ]; then
    [[ "$replicas" =~ ^[23]$ ]] || die "--replicas must be 2 or 3 (got '$replicas')" 2
    command -v etcd >/dev/null && command -v etcdctl >/dev/null || die "--ha needs etcd: apt-get install etcd-server etcd-client"
    local p
    for p in 23791 23792 23793 23801 23802 23803; do
      ss -Hltn "sport = :$p" | grep -q . && die "port $p is in use on this host: --ha needs 23791-23793 and 23801-23803"
    done
  elif [ "$replicas" != 1 ]; then
    die "--replicas goes with --ha" 2
  fi
  [ "$(id -u)" = 0 ] || die "run as root: it creates network namespaces"
  if running; then
    die "a cluster is already running (data in $DATA): ./wgcni status to see it, ./wgcni down to stop it"
  fi
  if [ -f "$STATE" ] || ip netns list | grep -q '^wgcni-' || ip link show "$HOST_LINK" >/dev/null 2>&1; then
    die "the remains of a cluster are still here (namespaces wgcni-* or link $HOST_LINK): ./wgcni down removes them"
  fi
  local r
  for ((r = 0; r < replicas; r++)); do
    if ss -Hltn "sport = :$((port + r))" | grep -q .; then
      die "port $((port + r)) is in use on this host: stop what listens there or choose another with --port"
    fi
  done
  if ip -4 route show to match "$UNDERLAY.0/24" | grep -v '^default' | grep -q .; then
    die "$UNDERLAY.0/24 is already routed on this host; the local cluster needs it for its underlay"
  fi
  for f in "$CM_BIN" "$NM_BIN" "$PLUGIN"; do [ -x "$f" ] || die "$f is missing: run ./wgcni build"; done

  install -d -m 0700 "$DATA"
  cat > "$STATE" <<EOF
NODES=$nodes
CONTAINERS=$containers
PORT=$port
HA=$ha
REPLICAS=$replicas
EOF
  trap 'say "wgcni: up failed; removing what it made (logs stay in $DATA)"; cmd_down >/dev/null 2>&1 || true' EXIT

  step "Underlay: a bridge in namespace $HUB, $HOST_LINK on this host ($UNDERLAY.254)"
  ip netns add "$HUB"
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link add br0 type bridge
  ip -n "$HUB" link set br0 up
  ip link add "$HOST_LINK" type veth peer name host netns "$HUB"
  ip -n "$HUB" link set host master br0 up
  ip addr add "$UNDERLAY.254/24" dev "$HOST_LINK"
  ip link set "$HOST_LINK" up

  local store=() cluster="$UNDERLAY.254:$port"
  if [ "$ha" = 1 ]; then
    start_etcd
    store=(--store "etcd://$ETCD_ENDPOINTS/wgcni/")
    step "cluster-manager replicas on $UNDERLAY.254:$port..$((port + replicas - 1)) (store: etcd)"
    for ((r = 1; r <= replicas; r++)); do
      install -d -m 0700 "$DATA/cluster-manager-r$r"
      # Every replica loads the same CA, given as files: the first replica makes it, the others get a copy.
      [ "$r" = 1 ] || install -m 0600 "$DATA/cluster-manager-r1/ca.crt" "$DATA/cluster-manager-r1/ca.key" "$DATA/cluster-manager-r$r/"
      setsid "$CM_BIN" serve --data-dir "$DATA/cluster-manager-r$r" --listen "$UNDERLAY.254:$((port + r - 1))" \
        --metrics-listen off "${store[@]}" > "$DATA/cluster-manager-r$r.log" 2>&1 < /dev/null &
      echo $! > "$DATA/cluster-manager-r$r.pid"
      wait_for_line "$DATA/cluster-manager-r$r.log" "cluster-manager listening on" "$!" 60 "cluster-manager replica $r"
      [ "$r" = 1 ] || cluster="$cluster,$UNDERLAY.254:$((port + r - 1))"
    done
    ln -sfn cluster-manager-r1 "$DATA/cluster-manager"
  else
    step "cluster-manager on $UNDERLAY.254:$port (embedded store in $DATA/cluster-manager)"
    setsid "$CM_BIN" serve --data-dir "$DATA/cluster-manager" --listen "$UNDERLAY.254:$port" --metrics-listen off \
      > "$DATA/cluster-manager.log" 2>&1 < /dev/null &
    echo $! > "$DATA/cluster-manager.pid"
    wait_for_line "$DATA/cluster-manager.log" "cluster-manager listening on" "$!" 60 cluster-manager
  fi

  local n c
  for ((n = 1; n <= nodes; n++)); do
    step "node$n: namespace $(node_ns "$n"), underlay $UNDERLAY.$n, node-manager with interface $(node_if "$n")"
    local ns dir
    ns=$(node_ns "$n") dir=$(node_dir "$n")
    install -d -m 0700 "$dir"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$HUB" link add "v$n" type veth peer name eth0 netns "$ns"
    ip -n "$HUB" link set "v$n" master br0 up
    ip -n "$ns" addr add "$UNDERLAY.$n/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$UNDERLAY.254"
    "$CM_BIN" token create --data-dir "$DATA/cluster-manager" "${store[@]}" --ttl 1h > "$dir/join-token"
    chmod 0600 "$dir/join-token"
    setsid ip netns exec "$ns" "$NM_BIN" run --cluster "$cluster" --join-token-file "$dir/join-token" \
      --node-name "node$n" --data-dir "$dir/state" --interface "$(node_if "$n")" \
      --socket "$dir/node.sock" --cni-socket "$dir/cni.sock" --metrics-listen off \
      > "$dir/node-manager.log" 2>&1 < /dev/null &
    echo $! > "$dir/node-manager.pid"
  done
  for ((n = 1; n <= nodes; n++)); do
    wait_for_line "$(node_dir "$n")/node-manager.log" "node-manager ready" "$(cat "$(node_dir "$n")/node-manager.pid")" 90 "node-manager of node$n"
  done

  step "Waiting for every node to have the other $((nodes - 1)) as peers"
  local i peers
  for ((n = 1; n <= nodes; n++)); do
    for ((i = 0; ; i++)); do
      peers=$(wg show "$(node_if "$n")" dump 2>/dev/null | tail -n +2 | awk -F'\t' '$4 !~ /\/(32|128)(,|$)/' | wc -l)
      [ "$peers" -ge $((nodes - 1)) ] && break
      [ "$i" -lt 300 ] || die "node$n has $peers node peers after 30 s (see $(node_dir "$n")/node-manager.log)"
      sleep 0.1
    done
  done

  if [ "$containers" -gt 0 ]; then
    step "Containers: $containers per node, attached by the CNI plugin ($PLUGIN)"
    for ((n = 1; n <= nodes; n++)); do
      for ((c = 1; c <= containers; c++)); do
        ip netns add "$(ctr_ns "$n" "$c")"
        ip -n "$(ctr_ns "$n" "$c")" link set lo up
        cni ADD "$n" "$c" > "$(node_dir "$n")/c$c.result.json"
        say "    $(ctr_ns "$n" "$c"): $(container_addr "$n" "$c")"
      done
    done
  fi
  trap - EXIT
  step "Checks"
  cmd_status
}

# Pings every container from the first container of each node (and every node from every node).
checks() {
  local n c m failed=0 total=0 addr from
  for ((n = 1; n <= NODES; n++)); do
    if [ "$CONTAINERS" -gt 0 ]; then from=$(ctr_ns "$n" 1); else from=$(node_ns "$n"); fi
    for ((m = 1; m <= NODES; m++)); do
      for ((c = 1; c <= CONTAINERS; c++)); do
        [ "$from" = "$(ctr_ns "$m" "$c")" ] && continue
        addr=$(container_addr "$m" "$c")
        total=$((total + 1))
        # Three tries: a first packet may wait for a handshake, and a lost initiation is retried after 5 s.
        if [ -n "$addr" ] && { ip netns exec "$from" ping -c 1 -W 2 "$addr" || ip netns exec "$from" ping -c 1 -W 3 "$addr" \
            || ip netns exec "$from" ping -c 1 -W 5 "$addr"; } >/dev/null 2>&1; then
          printf '    ok    %-22s -> %-22s %s\n' "$from" "$(ctr_ns "$m" "$c")" "$addr"
        else
          printf '    FAIL  %-22s -> %-22s %s\n' "$from" "$(ctr_ns "$m" "$c")" "${addr:-no address}"
          failed=$((failed + 1))
        fi
      done
    done
  done
  if [ "$total" -eq 0 ]; then
    printf 'mesh: nothing to check (fewer than two containers)\n'
  elif [ "$failed" -eq 0 ]; then
    printf 'mesh: all %d checks passed\n' "$total"
  else
    printf 'mesh: %d of %d checks FAILED\n' "$failed" "$total"
    return 1
  fi
}

ago() { # seconds since a unix time, for humans
  local t=$1
  [ "$t" -gt 0 ] || { echo never; return; }
  echo "$(( $(date +%s) - t ))s ago"
}

table() {
  local n ns iface dump subnet pub endpoint peers nodes_n ctrs hs rx tx
  printf '%-7s %-15s %-45s %-20s %-16s %-12s %-10s %-10s\n' NODE SUBNET PUBLIC-KEY ENDPOINT PEERS HANDSHAKE RX TX
  for ((n = 1; n <= NODES; n++)); do
    ns=$(node_ns "$n") iface=$(node_if "$n")
    if ! dump=$(wg show "$iface" dump 2>/dev/null); then
      printf '%-7s %s\n' "node$n" "(interface $iface is down: see $(node_dir "$n")/node-manager.log)"
      continue
    fi
    subnet=$(ip -n "$ns" -4 route show dev "$iface" proto kernel 2>/dev/null | awk '{print $1; exit}')
    pub=$(head -n 1 <<< "$dump" | cut -f 2)
    endpoint="$UNDERLAY.$n:$(head -n 1 <<< "$dump" | cut -f 3)"
    # Peers whose allowed IPs are a whole subnet are nodes; /32 and /128 ones are containers and clients.
    read -r nodes_n ctrs hs rx tx < <(tail -n +2 <<< "$dump" | awk -F'\t' '
      { if ($4 ~ /\/(32|128)(,|$)/) c++; else { n++; if ($5 > h) h = $5 } ; r += $6; t += $7 }
      END { printf "%d %d %d %d %d\n", n, c, h, r, t }')
    printf '%-7s %-15s %-45s %-20s %-16s %-12s %-10s %-10s\n' "node$n" "${subnet:-?}" "$pub" "$endpoint" \
      "$nodes_n nodes, $ctrs ctr" "$(ago "$hs")" "$(numfmt --to=iec "$rx")" "$(numfmt --to=iec "$tx")"
  done
}

ETCD_ENDPOINTS=127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793

# Three etcd members on the host's loopback, data and logs in the data directory.
start_etcd() {
  step "etcd: 3 members on 127.0.0.1:23791-23793 (data in $DATA/etcd)"
  local m peers="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
  install -d -m 0700 "$DATA/etcd"
  for m in 1 2 3; do
    setsid etcd --name "e$m" --data-dir "$DATA/etcd/e$m" \
      --listen-client-urls "http://127.0.0.1:2379$m" --advertise-client-urls "http://127.0.0.1:2379$m" \
      --listen-peer-urls "http://127.0.0.1:2380$m" --initial-advertise-peer-urls "http://127.0.0.1:2380$m" \
      --initial-cluster "$peers" --initial-cluster-state new --initial-cluster-token "wgcni-local" \
      --auto-compaction-mode revision --auto-compaction-retention 10000 \
      > "$DATA/etcd-e$m.log" 2>&1 < /dev/null &
    echo $! > "$DATA/etcd-e$m.pid"
  done
  local i
  for ((i = 0; ; i++)); do
    ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" endpoint health >/dev/null 2>&1 && break
    [ "$i" -lt 150 ] || die "etcd is not healthy after 30 s (see $DATA/etcd-e*.log)"
    sleep 0.2
  done
}

# The replicas (process, address) and the etcd members' health.
control_plane() {
  [ "${HA:-0}" = 1 ] || { printf 'cluster-manager: pid %s on %s:%s, embedded store\n' \
    "$(cat "$DATA/cluster-manager.pid" 2>/dev/null)" "$UNDERLAY.254" "$PORT"; return 0; }
  local r pid state
  for ((r = 1; r <= REPLICAS; r++)); do
    pid=$(cat "$DATA/cluster-manager-r$r.pid" 2>/dev/null || echo -)
    # A killed replica may linger as a zombie until it is reaped: that is down too.
    if kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]; then state=running
    else state="DOWN (see $DATA/cluster-manager-r$r.log)"; fi
    printf 'cluster-manager replica %d: %s:%d pid %s %s\n' "$r" "$UNDERLAY.254" "$((PORT + r - 1))" "$pid" "$state"
  done
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" endpoint health 2>&1 | sed 's/^/etcd member /' || true
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=2s get --prefix --keys-only /wgcni/replicas/ 2>/dev/null \
    | grep . | sed 's|^/wgcni/replicas/|etcd lists replica |' || true
}

cmd_status() {
  load_state
  running || die "the cluster in $DATA is not running (./wgcni down cleans up, then ./wgcni up)"
  control_plane
  echo
  table
  echo
  checks
}

cmd_graph() {
  load_state
  local n c m dot="$DATA/mesh.dot" dump pub peer
  {
    echo 'graph wgcni {'
    echo '  graph [rankdir=LR, fontname="Helvetica", label="wgcni mesh: every edge is a WireGuard tunnel", labelloc=t];'
    echo '  node [fontname="Helvetica", shape=box, style=rounded];'
    echo '  edge [fontname="Helvetica", fontsize=10];'
    echo "  cm [label=\"cluster-manager\\n$UNDERLAY.254:$PORT\", shape=ellipse];"
    declare -A key_of=()
    for ((n = 1; n <= NODES; n++)); do
      dump=$(wg show "$(node_if "$n")" dump 2>/dev/null || true)
      pub=$(head -n 1 <<< "$dump" | cut -f 2)
      key_of[$pub]=$n
      local subnet
      subnet=$(ip -n "$(node_ns "$n")" -4 route show dev "$(node_if "$n")" proto kernel 2>/dev/null | awk '{print $1; exit}')
      echo "  subgraph cluster_node$n {"
      echo "    label=\"node$n  $subnet\"; style=rounded;"
      echo "    node$n [label=\"$(node_if "$n")\\n$UNDERLAY.$n\\n${pub:0:10}...\", shape=box3d];"
      for ((c = 1; c <= CONTAINERS; c++)); do
        echo "    n${n}c$c [label=\"$(ctr_ns "$n" "$c")\\neth0 $(container_addr "$n" "$c")\"];"
        echo "    node$n -- n${n}c$c [label=\"WireGuard over loopback UDP\"];"
      done
      echo "  }"
      echo "  node$n -- cm [style=dashed, label=\"gRPC/mTLS\"];"
    done
    # Node-to-node tunnels, once per pair, from the peers each node's wg0 has.
    for ((n = 1; n <= NODES; n++)); do
      dump=$(wg show "$(node_if "$n")" dump 2>/dev/null || true)
      while IFS=$'\t' read -r peer _ _ allowed _; do
        m=${key_of[$peer]:-}
        [ -n "$m" ] && [ "$m" -gt "$n" ] && echo "  node$n -- node$m [penwidth=2, label=\"UDP 51820\"];"
      done < <(tail -n +2 <<< "$dump")
    done
    echo '}'
  } > "$dot"
  cat "$dot"
  if command -v dot >/dev/null; then
    dot -Tsvg "$dot" -o "$DATA/mesh.svg" && say "wgcni: wrote $DATA/mesh.svg"
  else
    say "wgcni: install graphviz (apt-get install graphviz) for $DATA/mesh.svg"
  fi
}

stop_pid() { # stop_pid FILE: SIGTERM, a grace period, then SIGKILL
  local file=$1 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "wgcni: pid $pid did not stop in 15 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$file"
}

cmd_down() {
  local found=0 n c ns
  if [ -f "$STATE" ]; then
    found=1
    # shellcheck disable=SC1090
    . "$STATE"
  fi
  ip netns list | grep -q '^wgcni-' && found=1
  ip link show "$HOST_LINK" >/dev/null 2>&1 && found=1
  if [ "$found" = 0 ]; then
    say "wgcni: nothing is running"
    return 0
  fi
  step "Stopping the local cluster"
  # Containers first, through the plugin, while their node-managers still run.
  for ns in $(ip netns list | awk '/^wgcni-node[0-9]+-c[0-9]+/ {print $1}'); do
    n=${ns#wgcni-node}; c=${n#*-c}; n=${n%%-c*}
    if [ -S "$(node_dir "$n")/cni.sock" ]; then
      cni DEL "$n" "$c" >/dev/null 2>&1 || say "wgcni: DEL of $ns failed (its node-manager may be down)"
    fi
    ip netns delete "$ns" 2>/dev/null || true
  done
  for f in "$DATA"/node*/node-manager.pid; do [ -e "$f" ] && stop_pid "$f"; done
  stop_pid "$DATA/cluster-manager.pid"
  for f in "$DATA"/cluster-manager-r*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  for f in "$DATA"/etcd-e*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  for ns in $(ip netns list | awk '/^wgcni-/ {print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done
  ip link del "$HOST_LINK" 2>/dev/null || true
  # A node-manager that had to be killed cannot remove its UAPI socket.
  for f in /var/run/wireguard/wgcni-n*.sock; do [ -e "$f" ] && rm -f "$f"; done
  rm -f "$DATA"/node*/*.sock "$STATE"
  # The cluster is gone: its store, keys and tokens go with it (a new `up` starts a new cluster).
  rm -rf "$DATA/cluster-manager" "$DATA"/cluster-manager-r[0-9] "$DATA/etcd" "$DATA"/node*/state "$DATA"/node*/join-token "$DATA"/node*/*.result.json
  say "wgcni: stopped; logs and state stay in $DATA"
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  up) cmd_up "$@" ;;
  status) cmd_status ;;
  down) cmd_down ;;
  graph) cmd_graph ;;
  help|-h|--help) usage ;;
  *) usage; die "unknown command '$cmd'" 2 ;;
esac
