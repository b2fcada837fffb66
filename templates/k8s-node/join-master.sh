#!/bin/sh
# join-master for [=image.name] [=image.version]: join as another control-plane member.
set -eu
for img in /var/lib/kiln/images/*.tar; do [ -e "$img" ] && ctr -n k8s.io images import "$img"; done
cp /etc/kiln/kubeadm/join.yaml /run/kiln-join-master.yaml
cat >> /run/kiln-join-master.yaml <<'YAML'
controlPlane:
  certificateKey: "@@certificate_key@@"
  localAPIEndpoint:
    advertiseAddress: "@@node_address@@"
    bindPort: 6443
YAML
kubeadm join --config /run/kiln-join-master.yaml
