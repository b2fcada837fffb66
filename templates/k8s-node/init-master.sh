#!/bin/sh
# init-master for [=image.name] [=image.version]: the cluster CA comes from metadata (so every
# node can pin its hash before the cluster exists); kubeadm creates the rest.
set -eu
mkdir -p /etc/kubernetes/pki
umask 077
printf '%s\n' "${KILN_META_caCert:?metadata lacks caCert}" > /etc/kubernetes/pki/ca.crt
printf '%s\n' "${KILN_META_caKey:?metadata lacks caKey}" > /etc/kubernetes/pki/ca.key
for img in /var/lib/kiln/images/*.tar; do [ -e "$img" ] && ctr -n k8s.io images import "$img"; done
kubeadm init --config /etc/kiln/kubeadm/init.yaml --upload-certs --skip-token-print
