#!/bin/sh
# init-master for [=image.name] [=image.version]: create the etcd cluster with this node as its
# only member; the other masters add themselves to it (join-master). The kiln node agent runs
# this after every placeholder is filled, with the metadata as KILN_META_* variables.
set -eu
name="@@node_name@@"
peer="http://@@node_address@@:2380"
# On a node-local disk (the spec's storage: binds /var/lib/etcd) the member's data survives a
# reboot or a power loss: then this node restarts as the same member of the same cluster. etcd
# answers only once a quorum of members is back, and the others may still be booting.
if [ -d /var/lib/etcd/default/member ]; then
    echo "init-master: /var/lib/etcd holds this member's data: restarting $name as the same member"
    mkdir -p /run/kiln
    : >/run/kiln/etcd.env
    systemctl start containerd.service
    systemctl start --no-block etcd.service
    n=0
    until etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=5s endpoint health; do
        n=$((n + 1))
        [ "$n" -lt 200 ] || exit 1
        sleep 3
    done
    exit 0
fi
# A new cluster starts with exactly this member, whatever etcdInitialCluster lists: the others
# are added one by one with "etcdctl member add" (a static list would need all of them at once).
mkdir -p /run/kiln
cat >/run/kiln/etcd.env <<ENV
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER=$name=$peer
ENV
[ "${KILN_META_etcdInitialCluster:-}" = "$name=$peer" ] ||
    echo "init-master: starting a new cluster of one ($name=$peer); etcdInitialCluster lists ${KILN_META_etcdInitialCluster:-nothing}"
systemctl start containerd.service etcd.service
ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=5s endpoint health
