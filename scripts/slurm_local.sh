#!/usr/bin/env bash
# scripts/slurm_local.sh start|stop|status: a one-node Slurm cluster on this machine.
#
# For moetui's Slurm tests (.ci/run starts it before pytest and stops it after) and for
# trying `moetui run PRESET --slurm` without a cluster. `start` installs Debian's munge,
# slurmctld, slurmd and slurm-client when they are missing (root, apt-get), writes a
# slurm.conf for this host alone under $MOETUI_SLURM_DIR (default /tmp/moetui-slurm),
# starts munged, slurmctld and one slurmd per node as root, and returns once `sinfo`
# shows every node idle. It is idempotent: a cluster already up is left as it is. `stop`
# ends the daemons this script started and removes the state directory.
#
# The host is two nodes, `$(hostname)` and `$(hostname)-b`, each with half its CPUs
# (slurmd -N; one port each), so that a job across nodes (`--nodes 2`: torchrun's c10d
# rendezvous on the first node) runs for real; MOETUI_SLURM_NODES=1 makes it one node.
#
# Client commands (sbatch, squeue, ...) read /etc/slurm/slurm.conf; when that file is
# absent `start` links it to ours (and `stop` removes only that link). When a real one is
# there it is left alone: use `export SLURM_CONF=$MOETUI_SLURM_DIR/slurm.conf`.
set -euo pipefail

STATE=${MOETUI_SLURM_DIR:-/tmp/moetui-slurm}
CONF=$STATE/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf
PACKAGES=(munge slurmctld slurmd slurm-client)
export SLURM_CONF=$CONF

say() { echo "slurm_local: $*" >&2; }

install_missing() {
    local missing=() package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        say "missing ${missing[*]}; install them as root with apt-get (Debian 12: Slurm 22.05)"
        exit 1
    fi
    say "installing ${missing[*]}"
    # The packages' own services must not start: this script runs its own daemons.
    local policy=/usr/sbin/policy-rc.d added=""
    if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && added=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$added" ]; then rm -f $policy; fi
}

NODES=${MOETUI_SLURM_NODES:-2}
HOST=$(hostname)
node_names() { echo "$HOST"; [ "$NODES" -lt 2 ] || echo "$HOST-b"; }

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

all_alive() {
    local node
    alive munged && alive slurmctld || return 1
    for node in $(node_names); do alive "slurmd-$node" || return 1; done
}

# "idle" once every node has registered and is free.
node_state() { [ -f "$CONF" ] && sinfo -h -o %T 2>/dev/null | sort -u | paste -sd,; }

write_conf() {
    local memory cpus port=${MOETUI_SLURMD_PORT:-6818} node
    # MB per node; below the real size, or slurmd finds less than configured and drains the node
    memory=$(awk -v n="$NODES" '/MemTotal/ {print int($2 / 1024 * 0.9 / n)}' /proc/meminfo)
    cpus=$(( $(nproc) / NODES )); [ "$cpus" -ge 1 ] || cpus=1
    mkdir -p "$STATE"/{ctld,log}
    chmod 755 "$STATE"
    cat >"$CONF" <<EOF
# One-node cluster for moetui's tests (scripts/slurm_local.sh).
ClusterName=moetui
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$STATE/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool-%n
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
SlurmctldPort=${MOETUI_SLURMCTLD_PORT:-6817}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# Seconds from a time limit's or scancel's SIGTERM to SIGKILL.
KillWait=10
EOF
    for node in $(node_names); do
        echo "NodeName=$node NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$port CPUs=$cpus RealMemory=$memory" >>"$CONF"
        port=$((port + 1))
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$CONF"
}

start_munge() {
    alive munged && return
    [ -f "$STATE/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge.key" 2>/dev/null; chmod 600 "$STATE/munge.key"; }
    munged --force --socket="$STATE/munge.socket" --key-file="$STATE/munge.key" --pid-file="$STATE/munged.pid" \
        --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge.seed"
}

link_client_conf() {
    if [ ! -e $SYSTEM_CONF ] && [ ! -L $SYSTEM_CONF ]; then
        mkdir -p "$(dirname $SYSTEM_CONF)" && ln -s "$CONF" $SYSTEM_CONF
    elif [ "$(readlink $SYSTEM_CONF)" != "$CONF" ]; then
        say "$SYSTEM_CONF is another cluster's; for this one: export SLURM_CONF=$CONF"
    fi
}

start() {
    local node
    if all_alive && [ "$(node_state)" = idle ]; then
        say "already up ($(node_state))"
        return
    fi
    [ "$(id -u)" -eq 0 ] || { say "start needs root (the daemons run jobs as their submitter)"; exit 1; }
    install_missing
    write_conf
    start_munge
    alive slurmctld || slurmctld
    for node in $(node_names); do alive "slurmd-$node" || slurmd -N "$node"; done
    link_client_conf
    getent hosts "$HOST" >/dev/null || say "warning: $HOST does not resolve: a job across nodes (its rendezvous on the first node, by name) will fail; add it to /etc/hosts"
    local waited=0
    until [ "$(node_state)" = idle ]; do
        if [ $waited -ge 60 ]; then
            say "the nodes are not idle after 30 s (state: $(node_state)); see $STATE/log"
            tail -n 5 "$STATE"/log/*.log >&2
            exit 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    say "up: nodes $(node_names | paste -sd' ') idle in partition debug (state in $STATE)"
}

stop() {
    local daemon pid
    for daemon in $(node_names | sed 's/^/slurmd-/') slurmctld munged; do
        pid=$(cat "$STATE/$daemon.pid" 2>/dev/null) || continue  # a daemon may remove its pid file as it ends
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    if [ -L $SYSTEM_CONF ] && [ "$(readlink $SYSTEM_CONF)" = "$CONF" ]; then rm -f $SYSTEM_CONF; fi
    rm -rf "$STATE"
    say "stopped"
}

# Exits 0 when the cluster is up, 1 otherwise.
status() {
    local daemon
    for daemon in munged slurmctld $(node_names | sed 's/^/slurmd-/'); do
        if alive $daemon; then echo "$daemon running (pid $(cat "$STATE/$daemon.pid"))"; else echo "$daemon not running"; fi
    done
    if [ -f "$CONF" ]; then sinfo 2>&1 || true; else echo "no $CONF: not started"; fi
    all_alive
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
