#!/usr/bin/env bash
# Every VM: Temurin JDK 25 from Adoptium's apt repository, the tools wgcni drives, and the wgcni files.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends wget gpg ca-certificates
  wget -qO- https://packages.adoptium.net/artifactory/api/gpg/key/public | gpg --dearmor > /usr/share/keyrings/adoptium.gpg
  echo "deb [signed-by=/usr/share/keyrings/adoptium.gpg] https://packages.adoptium.net/artifactory/deb bookworm main" \
    > /etc/apt/sources.list.d/adoptium.list
  apt-get update -q
  apt-get install -y -q --no-install-recommends temurin-25-jdk
fi
apt-get install -y -q --no-install-recommends iproute2 iptables wireguard-tools
/vagrant/deploy/install.sh --from /vagrant
