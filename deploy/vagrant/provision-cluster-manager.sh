#!/usr/bin/env bash
# cm1: the cluster-manager, listening on the private network; one join token per node, shared through /vagrant.
set -euo pipefail
ip=$1
mkdir -p /etc/wgcni
cat > /etc/wgcni/cluster-manager.env <<ENV
WGCNI_LISTEN=$ip:7443
WGCNI_SERVER_NAME=$ip
ENV
systemctl enable --now wgcni-cluster-manager
for _ in $(seq 60); do
  systemctl is-active -q wgcni-cluster-manager && [ -e /var/lib/wgcni/cluster-manager/ca.crt ] && break
  sleep 1
done
# A token valid for an hour, read by every node's provisioning (the synced folder is private to this host).
install -d -m 0700 /vagrant/deploy/.vagrant-secrets
/opt/wgcni/bin/cluster-manager token create --data-dir /var/lib/wgcni/cluster-manager --ttl 1h \
  > /vagrant/deploy/.vagrant-secrets/join-token
chmod 0600 /vagrant/deploy/.vagrant-secrets/join-token
