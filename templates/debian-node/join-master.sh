#!/bin/sh
# join-master for [=image.name] [=image.version]: add this node to the etcd cluster that the
# first master (@@first_master@@) created, then start etcd as a member of the existing cluster.
# etcd accepts one unstarted member at a time, so masters that join together take turns: a
# refused "member add" is retried (the agent's bootstrapTimeout bounds the whole script).
set -eu
first="http://@@first_master@@:2379"
name="@@node_name@@"
peer="http://@@node_address@@:2380"
export ETCDCTL_API=3
ctl() { etcdctl --endpoints="$first" --dial-timeout=5s --command-timeout=10s "$@"; }
n=0
while :; do
    if members="$(ctl member list 2>&1)"; then
        # "ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER": already a member (an earlier
        # attempt or boot added us): start with the membership as it is.
        if printf '%s\n' "$members" | grep -q ", $peer, "; then
            cluster="$(printf '%s\n' "$members" | awk -F', ' -v me="$name" -v peer="$peer" \
                '{ n = $3; if ($4 == peer) n = me; printf "%s%s=%s", sep, n, $4; sep = "," }')"
            break
        fi
        if out="$(ctl member add "$name" --peer-urls="$peer" 2>&1)"; then
            printf '%s\n' "$out"
            cluster="$(printf '%s\n' "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')"
            break
        fi
        why="$out"
    else
        why="$members"
    fi
    n=$((n + 1))
    [ $((n % 10)) != 1 ] || echo "join-master: waiting for the etcd cluster at $first: $(printf '%s' "$why" | tail -n 1)"
    sleep 3
done
[ -n "$cluster" ] || { echo "join-master: no initial cluster for $name from $first" >&2; exit 1; }
mkdir -p /run/kiln
cat >/run/kiln/etcd.env <<ENV
ETCD_INITIAL_CLUSTER_STATE=existing
ETCD_INITIAL_CLUSTER=$cluster
ENV
echo "join-master: joining as $name with initial cluster $cluster"
systemctl start containerd.service etcd.service
etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=5s endpoint health
