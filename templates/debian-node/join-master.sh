#!/bin/sh
# join-master for [=image.name] [=image.version]: add this node to the etcd cluster that the
# first master (@@first_master@@) created, then start etcd as a member of the existing cluster.
set -eu
first="http://@@first_master@@:2379"
peer="http://@@node_address@@:2380"
# The first master may still be starting: retry until it answers (the agent's deadline bounds this).
until ETCDCTL_API=3 etcdctl --endpoints="$first" member list >/tmp/kiln-members 2>/dev/null; do sleep 2; done
if ! grep -q "$peer" /tmp/kiln-members; then
    ETCDCTL_API=3 etcdctl --endpoints="$first" member add "@@node_name@@" --peer-urls="$peer"
fi
mkdir -p /etc/systemd/system/etcd.service.d
printf '[Service]\nEnvironment=ETCD_INITIAL_CLUSTER_STATE=existing\n' > /etc/systemd/system/etcd.service.d/kiln-state.conf
systemctl daemon-reload
systemctl start containerd.service etcd.service
