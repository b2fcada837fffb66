#!/bin/sh
# init-master for [=image.name] [=image.version]: create the etcd cluster with this node as its
# first member. The node agent runs this after every placeholder is filled.
set -eu
mkdir -p /etc/systemd/system/etcd.service.d
printf '[Service]\nEnvironment=ETCD_INITIAL_CLUSTER_STATE=new\n' > /etc/systemd/system/etcd.service.d/kiln-state.conf
systemctl daemon-reload
systemctl start containerd.service etcd.service
