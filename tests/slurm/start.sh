#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this machine, for tests/test_slurm.py.
#
#   tests/slurm/start.sh STATE_DIR      # start; then: source STATE_DIR/env.sh
#   tests/slurm/stop.sh STATE_DIR       # stop everything this started, by pid
#
# Needs root and Debian (apt). Installs slurmctld, slurmd, slurm-client and munge when
# missing, writes slurm.conf/gres.conf/cgroup.conf from the templates next to this
# script into STATE_DIR, and starts a private munged, slurmctld and slurmd by hand (no
# systemd). Every daemon started is recorded in STATE_DIR/started ("name pid" lines)
# for stop.sh. Nothing is written outside STATE_DIR except the munge socket folder
# (/tmp/infofrag-munge.*, recorded in STATE_DIR/munge_dir): munged runs as the munge
# user and must be able to reach its socket folder.
#
# Settings (environment): INFOFRAG_SLURM_PARTITION (default "test"),
# INFOFRAG_SLURM_NODE_CPUS (8), INFOFRAG_SLURM_NODE_MEM_MB (32000): the node is declared
# this big (SlurmdParameters=config_overrides) so the project's profile can be submitted
# unchanged on a small machine. INFOFRAG_SLURM_NO_INSTALL=1: fail instead of apt-get.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # the daemons and runuser live there

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
state=${1:?usage: start.sh STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd -P)
partition=${INFOFRAG_SLURM_PARTITION:-test}
cpus=${INFOFRAG_SLURM_NODE_CPUS:-8}
mem_mb=${INFOFRAG_SLURM_NODE_MEM_MB:-32000}

log() { printf '[slurm start] %s\n' "$*" >&2; }
die() { printf '[slurm start] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as root here)"
if [ -e "$state/started" ] && [ -s "$state/started" ]; then
    die "$state/started exists: a cluster from this folder may still run (use stop.sh)"
fi

# --- packages ---------------------------------------------------------------------------
missing=()
for pair in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "${INFOFRAG_SLURM_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get"
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$state/apt.log" 2>&1 || { tail -20 "$state/apt.log" >&2; die "apt-get update failed"; }
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge \
        >>"$state/apt.log" 2>&1 || { tail -20 "$state/apt.log" >&2; die "apt-get install failed"; }
fi
# from here on, a failed start stops whatever it had started
trap 'rc=$?; [ $rc -eq 0 ] || "$here/stop.sh" "$state" >&2 || true' EXIT
[ -r /etc/munge/munge.key ] || die "/etc/munge/munge.key missing (the munge package creates it)"

# --- configuration ------------------------------------------------------------------------
host=$(hostname -s)
read -r ctld_port slurmd_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)
munge_dir=$(mktemp -d /tmp/infofrag-munge.XXXXXX)
echo "$munge_dir" >"$state/munge_dir"
chown munge:munge "$munge_dir"
chmod 0755 "$munge_dir"  # munged requires execute permission for all
mkdir -p "$state/ctld" "$state/spool" "$state/log"
: >"$state/started"

fill() {
    sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$state|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
        -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" \
        -e "s|@PARTITION@|$partition|g" -e "s|@MUNGE_SOCKET@|$munge_dir/munge.socket|g" "$1"
}
fill "$here/slurm.conf.in" >"$state/slurm.conf"
fill "$here/gres.conf.in" >"$state/gres.conf"
fill "$here/cgroup.conf.in" >"$state/cgroup.conf"
export SLURM_CONF="$state/slurm.conf"

cat >"$state/env.sh" <<EOF
# source this to use the test cluster (written by tests/slurm/start.sh)
export SLURM_CONF='$state/slurm.conf'
export INFOFRAG_SLURM_CONF='$state/slurm.conf'
export INFOFRAG_SLURM_PARTITION='$partition'
export PATH='$here/bin':"\$PATH"
EOF

# --- daemons ------------------------------------------------------------------------------
wait_pidfile() {  # wait_pidfile FILE NAME: echo the pid once FILE names a live process
    local file=$1 name=$2 t
    for t in $(seq 1 100); do
        if [ -s "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null; then
            cat "$file"; return 0
        fi
        sleep 0.1
    done
    die "$name did not start (no live pid in $file)"
}

runuser -u munge -- /usr/sbin/munged --socket="$munge_dir/munge.socket" \
    --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" \
    --seed-file="$munge_dir/munged.seed" \
    || { cat "$munge_dir/munged.log" >&2 2>/dev/null; die "munged failed to start"; }
pid=$(wait_pidfile "$munge_dir/munged.pid" munged)
echo "munged $pid" >>"$state/started"
munge -n -S "$munge_dir/munge.socket" | unmunge -S "$munge_dir/munge.socket" >/dev/null \
    || die "munge round trip failed"

slurmctld -f "$state/slurm.conf" || { tail -20 "$state/log/slurmctld.log" >&2; die "slurmctld failed"; }
pid=$(wait_pidfile "$state/slurmctld.pid" slurmctld)
echo "slurmctld $pid" >>"$state/started"
slurmd -f "$state/slurm.conf" || { tail -20 "$state/log/slurmd.log" >&2; die "slurmd failed"; }
pid=$(wait_pidfile "$state/slurmd.pid" slurmd)
echo "slurmd $pid" >>"$state/started"

# the node must come up idle (a misconfigured gres drains it); bound by wall clock, as
# client commands block for ~10 s while slurmctld is unreachable
deadline=$((SECONDS + 60))
node_state=
while [ $SECONDS -lt $deadline ]; do
    node_state=$(timeout 15 sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
    case $node_state in
        idle) break ;;
        drain* | drng | inval | fail*) break ;;
    esac
    sleep 0.5
done
if [ "$node_state" != idle ]; then
    timeout 15 scontrol show node "$host" >&2 || true
    tail -20 "$state/log/slurmd.log" >&2 || true
    die "node $host is '${node_state:-unreachable}', not idle (see $state/log)"
fi
log "cluster up: partition '$partition' on node $host ($cpus CPUs, ${mem_mb} MB, 2 fake GPUs)," \
    "ports $ctld_port/$slurmd_port; source $state/env.sh"
