#!/bin/sh
# init-master for [=image.name] [=image.version]: create the etcd cluster with this node as its
# only member; the other masters add themselves to it (join-master). The kiln node agent runs
# this after every placeholder is filled, with the metadata as KILN_META_* variables.
set -eu
name="@@node_name@@"
peer="http://@@node_address@@:2380"
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
