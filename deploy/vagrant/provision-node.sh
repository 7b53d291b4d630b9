#!/usr/bin/env bash
# Every VM: a node-manager that joins the cluster-manager on cm1, and the CNI plugin for the runtimes.
set -euo pipefail
name=$1 ip=$2 cluster=$3
install -d -m 0700 /etc/wgcni
install -m 0600 /vagrant/deploy/.vagrant-secrets/join-token /etc/wgcni/join-token
cat > /etc/wgcni/node-manager.env <<ENV
WGCNI_CLUSTER=$cluster:7443
WGCNI_JOIN_TOKEN_FILE=/etc/wgcni/join-token
WGCNI_NODE_NAME=$name
WGCNI_ENDPOINT=$ip:51820
ENV
chmod 0600 /etc/wgcni/node-manager.env
systemctl enable --now wgcni-node-manager
