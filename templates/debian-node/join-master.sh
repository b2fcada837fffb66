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
# On a node-local disk (the spec's storage: binds /var/lib/etcd) the member's data survives a
# reboot or a power loss: then this node restarts as the same member, no re-join (and no need
# for the first master, which may be booting too). etcd answers once a quorum is back.
if [ -d /var/lib/etcd/default/member ]; then
    echo "join-master: /var/lib/etcd holds this member's data: restarting $name as the same member"
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
n=0
while :; do
    if members="$(ctl member list 2>&1)"; then
        # "ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER". A member with this node's peer
        # URL is a former life of it whose data is gone (wiped by a reimage, or it ran from RAM):
        # rejoining under its id with an empty data dir would corrupt raft, so it is removed and
        # this node joins as a new member.
        stale="$(printf '%s\n' "$members" | awk -F', ' -v peer="$peer" '$4 == peer { print $1 }')"
        if [ -n "$stale" ]; then
            if out="$(ctl member remove "$stale" 2>&1)"; then
                echo "join-master: removed stale member $stale ($peer), its data is gone; joining as a new member"
                continue
            fi
            why="$out"
            n=$((n + 1))
            [ $((n % 10)) != 1 ] || echo "join-master: cannot remove stale member $stale yet: $(printf '%s' "$why" | tail -n 1)"
            sleep 3
            continue
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
