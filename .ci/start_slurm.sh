#!/usr/bin/env bash
# Start a single-node Slurm on this host for the Slurm tests (tests/e2e/test_slurm.py).
# Installs Debian's slurm-wlm and munge when apt-get can, writes a minimal slurm.conf for
# this machine (no cgroups: CI containers rarely allow them), starts munged, slurmctld and
# slurmd, and waits until `sinfo` shows the node idle. Prints why on any failure and
# exits 1; the caller then runs the tests without it (they say so, never fake a pass).
# Idempotent: run it again and it restarts the daemons with the same configuration.
set -uo pipefail

say() { echo "slurm: $*" >&2; }
fail() { say "$*"; exit 1; }

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "slurm-wlm is not installed and there is no apt-get"
  apt-get update -qq >/dev/null 2>&1 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
    || fail "apt-get install slurm-wlm munge failed"
fi
[ "$(id -u)" = 0 ] || fail "starting slurmctld/slurmd needs root here (this is uid $(id -u))"

conf_dir=/etc/slurm
state=/var/spool/slurmctld
spool=/var/spool/slurmd
logs=/var/log/slurm
mkdir -p "$conf_dir" "$state" "$spool" "$logs" /run/munge /var/lib/munge /var/log/munge

# munge: a key shared by the daemons and the clients (one host, so any key will do).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none \
    || fail "could not write /etc/munge/munge.key"
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
chmod 700 /etc/munge
if ! pgrep -x munged >/dev/null; then
  su -s /bin/sh munge -c munged 2>/dev/null || munged --force 2>/dev/null \
    || fail "munged would not start (see /var/log/munge/munged.log)"
fi
munge -n | unmunge >/dev/null 2>&1 || fail "munge does not round-trip a credential"

host=$(hostname -s)
# `slurmd -C` reports this machine's CPUs, sockets and memory as a NodeName line.
node_line=$(slurmd -C 2>/dev/null | head -1)
[ -n "$node_line" ] || fail "slurmd -C could not read this machine's hardware"
node_line=$(echo "$node_line" | sed "s/^NodeName=[^ ]*/NodeName=$host/")
# Leave memory for the daemons and the tests: offer 3/4 of it (CR_Core: jobs need no --mem).
real_mem=$(echo "$node_line" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ -n "$real_mem" ] && node_line=$(echo "$node_line" | sed "s/RealMemory=[0-9]*/RealMemory=$((real_mem * 3 / 4))/")

cat > "$conf_dir/slurm.conf" <<CONF
# Written by .ci/start_slurm.sh: one node, no cgroups, jobs may be requeued.
ClusterName=cifartui
SlurmctldHost=$host
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state
SlurmdSpoolDir=$spool
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=20
MinJobAge=300
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# No cgroup.conf: with proctrack/linuxproc and task/none slurmd only probes cgroups.
rm -f "$conf_dir/cgroup.conf"

# Restart the daemons we started before (by pid file), then start them afresh.
for pidfile in /run/slurmctld.pid /run/slurmd.pid; do
  [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
done
for _ in $(seq 50); do
  pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break
  sleep 0.1
done
slurmctld -i >/dev/null 2>&1 || fail "slurmctld would not start: $(tail -3 $logs/slurmctld.log 2>/dev/null)"
slurmd >/dev/null 2>&1 || fail "slurmd would not start: $(tail -3 $logs/slurmd.log 2>/dev/null)"

for _ in $(seq 60); do
  state_now=$(sinfo -h -n "$host" -o %t 2>/dev/null | head -1)
  case "$state_now" in
    idle|mix|alloc) say "node $host is $state_now (partition debug)"; exit 0 ;;
    down*|drain*|fail*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 ;;
  esac
  sleep 0.5
done
fail "node $host never became idle (sinfo says '${state_now:-nothing}'); see $logs/slurmctld.log and $logs/slurmd.log"
