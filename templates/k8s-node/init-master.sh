#!/bin/sh
# init-master for [=image.name] [=image.version]: the cluster CA comes from metadata (so every
# node can pin its hash before the cluster exists); kubeadm creates the rest.
set -eu
mkdir -p /etc/kubernetes/pki
umask 077
printf '%s\n' "${KILN_META_caCert:?metadata lacks caCert}" > /etc/kubernetes/pki/ca.crt
printf '%s\n' "${KILN_META_caKey:?metadata lacks caKey}" > /etc/kubernetes/pki/ca.key
for img in /var/lib/kiln/images/*.tar; do [ -e "$img" ] && ctr -n k8s.io images import "$img"; done
# The certificate key reaches masters only, so it is set here rather than as a placeholder
# (placeholders are filled on every node, whatever its role).
sed "s|^# certificateKey:.*|certificateKey: \"${KILN_META_certificateKey:?metadata lacks certificateKey}\"|" \
    /etc/kiln/kubeadm/init.yaml > /run/kiln-init.yaml
kubeadm init --config /run/kiln-init.yaml --upload-certs --skip-token-print
