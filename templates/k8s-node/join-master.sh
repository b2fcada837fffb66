#!/bin/sh
# join-master for [=image.name] [=image.version]: join as another control-plane member.
set -eu
for img in /var/lib/kiln/images/*.tar; do [ -e "$img" ] && ctr -n k8s.io images import "$img"; done
cp /etc/kiln/kubeadm/join.yaml /run/kiln-join-master.yaml
# The certificate key reaches masters only (metadata), so it is not a placeholder.
cat >> /run/kiln-join-master.yaml <<YAML
controlPlane:
  certificateKey: "${KILN_META_certificateKey:?metadata lacks certificateKey}"
  localAPIEndpoint:
    advertiseAddress: "@@node_address@@"
    bindPort: 6443
YAML
kubeadm join --config /run/kiln-join-master.yaml
