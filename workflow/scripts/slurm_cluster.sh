#!/usr/bin/env bash
# A one-node Slurm cluster with accounting, on this machine, for running and testing the
# Slurm profile (workflow/profiles/slurm) for real. Debian's packages: slurmctld, slurmd,
# slurmdbd, slurm-client, munge, and mariadb-server for slurmdbd's accounting storage
# (the Snakemake Slurm executor asks `sacct` for job states; sacct needs slurmdbd).
#
#   workflow/scripts/slurm_cluster.sh up       install what is missing (apt-get), then start
#                                              munged, mariadbd, slurmdbd, slurmctld, slurmd
#                                              (a second `up` with the cluster running is a no-op)
#   workflow/scripts/slurm_cluster.sh status   each daemon, the partition; exit 0 when all are up
#   workflow/scripts/slurm_cluster.sh env      the line to eval before using sbatch/sacct/sinfo:
#                                              eval "$(workflow/scripts/slurm_cluster.sh env)"
#   workflow/scripts/slurm_cluster.sh down     cancel the jobs, stop every daemon it started;
#                                              nothing of it is left running (state is kept)
#   workflow/scripts/slurm_cluster.sh purge    down, then delete its folder (config, database, logs)
#
# Its state lives in one folder, $DTH_SLURM_DIR (default /var/lib/dth-slurm): the config
# (etc/slurm.conf, etc/slurmdbd.conf), a private MariaDB data folder (not /var/lib/mysql),
# munge's key, Slurm's state, logs, pid files. Outside it, only two things: while the
# cluster is up, the link /etc/slurm/slurm.conf -> etc/slurm.conf (inside a job, the
# plugin's `srun` sees no SLURM_CONF: it reads Slurm's default path, as on a real site's
# nodes; `up` refuses to replace another Slurm's file there; `down` removes the link), and
# munge's default socket /run/munge/munge.socket.2
# (Slurm's clients reach slurmdbd through that one; a munged already serving it is used).
# No systemd is needed: the daemons are started directly, each one waited for until it
# answers. On the command line, `env` tells sbatch, sacct, sinfo where the cluster is.
#
# The node is this machine: its CPUs (slurmd -C) and its memory less a reserve for the OS
# (max(1 GiB, 10%)). One partition ($DTH_SLURM_PARTITION, default "local"), one account
# ($DTH_SLURM_ACCOUNT, default "dth") that root may use; accounting enforces associations,
# so a job with another account is refused, as on a real site.
#
# Ports (127.0.0.1 only): slurmctld 6817, slurmd 6818, slurmdbd 6819, mariadbd 3306;
# override with DTH_SLURM_CTLD_PORT, DTH_SLURMD_PORT, DTH_SLURMDBD_PORT, DTH_SLURM_DB_PORT.
#
# Exit status: 0 done; 3 this machine cannot host the cluster (not root, the packages are
# missing and apt-get cannot install them, a port is taken by another program): the
# message says which; 1 anything else (a daemon did not come up: its log is shown).
set -euo pipefail

D=${DTH_SLURM_DIR:-/var/lib/dth-slurm}
CLUSTER=${DTH_SLURM_CLUSTER:-dth}
ACCOUNT=${DTH_SLURM_ACCOUNT:-dth}
PARTITION=${DTH_SLURM_PARTITION:-local}
CTLD_PORT=${DTH_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${DTH_SLURMD_PORT:-6818}
DBD_PORT=${DTH_SLURMDBD_PORT:-6819}
DB_PORT=${DTH_SLURM_DB_PORT:-3306}
PACKAGES="slurmctld slurmd slurmdbd slurm-client munge mariadb-server"
NEEDED="munged mungekey mariadbd mariadb-install-db mariadb slurmctld slurmd slurmdbd sacctmgr sbatch sacct scontrol sinfo squeue scancel"

CONF=$D/etc/slurm.conf
# Slurm's default place for the config, a link to $CONF: the plugin's job step runs `srun`
# inside each job with every SLURM_* variable but a few removed, SLURM_CONF included
SYSTEM_CONF=/etc/slurm/slurm.conf
# munge's default socket: sacctmgr/sacct reach slurmdbd through it even when slurm.conf's
# AuthInfo names another (seen with 22.05)
MUNGE_SOCKET=/run/munge/munge.socket.2
DB_SOCKET=$D/mysql/mysqld.sock
export SLURM_CONF=$CONF
export PATH=$PATH:/usr/sbin:/sbin
# every daemon started here carries this marker in its environment (and only they do: it
# is never exported here): `down` stops exactly the processes that have it, by pid
MARKER="DTH_SLURM_DAEMON_OF=$D"

say() { echo "slurm_cluster: $*" >&2; }
die() { say "error: $*"; exit 1; }
cannot() { say "cannot run here: $*"; exit 3; }

# ------------------------------------------------------------------------------ processes

ours() {  # pid -> true when that process was started by this script for this folder
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/environ" ] || return 1
  { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "$MARKER"
}

pid_of() {  # daemon name -> its pid, when its pid file names a live process of ours
  local file
  case $1 in
    munged) file=$D/munge/munged.pid ;;
    mariadbd) file=$D/mysql/mariadbd.pid ;;
    *) file=$D/run/$1.pid ;;
  esac
  [ -s "$file" ] || return 1
  local pid; pid=$(tr -dc '0-9' <"$file")
  ours "$pid" && echo "$pid"
}

all_ours() {  # every live pid carrying the marker: the daemons, and what they started with their environment
  local p pid
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    ours "$pid" && echo "$pid"
  done
  return 0
}

stop_pid() {  # pid name: TERM, wait up to 20 s, then KILL
  local pid=$1 name=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { say "stopped $name (pid $pid)"; return 0; }
    sleep 0.2
  done
  say "$name (pid $pid) did not stop in 20 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

wait_for() {  # seconds command... : retry the command until it succeeds, for at most that long
  local end=$((SECONDS + $1)); shift
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.25
  done
}

port_owner() {  # port -> "name pid" of the process listening on it (empty: nobody)
  local port=$1 line
  if command -v ss >/dev/null 2>&1; then
    line=$(ss -H -ltnp "sport = :$port" 2>/dev/null | head -1)
    [ -n "$line" ] || return 0
    echo "$line" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 \2/p' | head -1
    echo "$line" | grep -q 'users:' || echo "unknown ?"
  elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "unknown ?"
  fi
}

check_port() {  # port daemon: fail (exit 3) when another program listens on it
  local port=$1 daemon=$2 owner pid
  owner=$(port_owner "$port")
  [ -n "$owner" ] || return 0
  pid=${owner##* }
  if ours "$pid"; then return 0; fi
  cannot "port $port (for $daemon) is taken by ${owner% *} (pid $pid); stop it, or choose another port with the environment variable named in the header of $0"
}

show_log() {  # file: its last lines on stderr
  [ -s "$1" ] && { say "last lines of $1:"; tail -n 25 "$1" >&2; }
  return 0
}

# ------------------------------------------------------------------------------ install

have_all() {
  local c
  for c in $NEEDED; do
    command -v "$c" >/dev/null 2>&1 || return 1
  done
}

install_packages() {
  have_all && return 0
  command -v apt-get >/dev/null 2>&1 || cannot "the Slurm packages are missing and there is no apt-get to install them ($PACKAGES)"
  local log; log=$(mktemp /tmp/dth-slurm-apt.XXXXXX)
  # keep the packages' maintainer scripts from starting their (system-wide) daemons
  local policy=/usr/sbin/policy-rc.d made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  say "installing $PACKAGES with apt-get (log: $log)"
  local ok=""
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PACKAGES >"$log" 2>&1; then
    ok=1
  else
    say "apt-get install failed; running apt-get update and trying again"
    if apt-get update -q >>"$log" 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PACKAGES >>"$log" 2>&1; then
      ok=1
    fi
  fi
  [ -n "$made_policy" ] && rm -f "$policy"
  if [ -z "$ok" ]; then
    tail -n 15 "$log" >&2
    cannot "apt-get could not install $PACKAGES (full log: $log)"
  fi
  have_all || cannot "apt-get ran, but these commands are still missing: $(for c in $NEEDED; do command -v "$c" >/dev/null || printf '%s ' "$c"; done)"
  rm -f "$log"
}

# ------------------------------------------------------------------------------ config

node_line() {  # this machine as a Slurm node: CPUs and topology from slurmd -C, memory less a reserve
  local hw total reserve mem
  hw=$(slurmd -C | head -1)
  total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  reserve=$(( total / 10 > 1024 ? total / 10 : 1024 ))
  mem=$(( total - reserve ))
  echo "$hw" | sed -e "s/^NodeName=[^ ]*/NodeName=$NODE NodeAddr=127.0.0.1/" \
                   -e "s/RealMemory=[0-9]*/RealMemory=$mem/"
}

write_config() {
  NODE=$(hostname -s)
  mkdir -p "$D"/etc "$D"/state/slurmctld "$D"/state/slurmd "$D"/log "$D"/run "$D"/munge "$D"/mysql
  chmod 755 "$D" "$D"/etc "$D"/log "$D"/run
  local node cpus mem
  node=$(node_line)
  cpus=$(echo "$node" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
  mem=$(echo "$node" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [ -n "$cpus" ] && [ -n "$mem" ] || die "could not read this machine's CPUs and memory (slurmd -C said: $node)"
  cat >"$CONF".new <<EOF
# Written by workflow/scripts/slurm_cluster.sh: a one-node cluster on this machine.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$D/state/slurmctld
SlurmdSpoolDir=$D/state/slurmd
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no systemd, no cgroup delegation here: processes tracked through /proc, CPUs bound by affinity
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( mem / cpus ))
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStorageEnforce=associations,limits
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
MinJobAge=300
KillWait=10
InactiveLimit=0
Waittime=0
$node State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF".new "$CONF"
  chmod 644 "$CONF"
  link_system_conf

  [ -s "$D"/etc/db.pass ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$D"/etc/db.pass)
  (umask 077; cat >"$D"/etc/slurmdbd.conf <<EOF
# Written by workflow/scripts/slurm_cluster.sh
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$D"/etc/db.pass)
StorageLoc=slurm_acct_db
EOF
  )
  chmod 600 "$D"/etc/slurmdbd.conf
  CPUS=$cpus MEM=$mem
}

# ------------------------------------------------------------------------------ daemons

munge_ok() { munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET"; }

start_munge() {
  pid_of munged >/dev/null && return 0
  if munge_ok >/dev/null 2>&1; then  # the machine's own munged: Slurm's daemons and clients share it
    say "using the munged already running on $MUNGE_SOCKET"
    return 0
  fi
  mkdir -p "$(dirname "$MUNGE_SOCKET")" && chown munge:munge "$(dirname "$MUNGE_SOCKET")" &&
    chmod 755 "$(dirname "$MUNGE_SOCKET")"
  chown munge:munge "$D"/munge && chmod 755 "$D"/munge
  if [ ! -s "$D"/munge/munge.key ]; then
    mungekey --create --keyfile="$D"/munge/munge.key >/dev/null 2>&1 ||
      (umask 077; head -c 1024 /dev/urandom >"$D"/munge/munge.key)
  fi
  chown munge:munge "$D"/munge/munge.key && chmod 600 "$D"/munge/munge.key
  runuser -u munge -- env "$MARKER" munged --socket="$MUNGE_SOCKET" --key-file="$D"/munge/munge.key \
    --pid-file="$D"/munge/munged.pid --log-file="$D"/munge/munged.log --seed-file="$D"/munge/munged.seed \
    </dev/null >/dev/null 2>&1 || { show_log "$D"/munge/munged.log; die "munged did not start"; }
  wait_for 15 munge_ok || { show_log "$D"/munge/munged.log; die "munged does not answer on $MUNGE_SOCKET"; }
  say "munged up (socket $MUNGE_SOCKET)"
}

db() { mariadb --no-defaults --socket="$DB_SOCKET" -u root "$@"; }

start_mariadb() {
  if ! pid_of mariadbd >/dev/null; then
    check_port "$DB_PORT" mariadbd
    chown mysql:mysql "$D"/mysql && chmod 755 "$D"/mysql
    if [ ! -d "$D"/mysql/data/mysql ]; then
      mariadb-install-db --no-defaults --user=mysql --datadir="$D"/mysql/data \
        --auth-root-authentication-method=socket --skip-test-db >"$D"/log/mariadb-install.log 2>&1 ||
        { show_log "$D"/log/mariadb-install.log; die "mariadb-install-db failed"; }
    fi
    rm -f "$DB_SOCKET"
    setsid env "$MARKER" mariadbd --no-defaults --user=mysql --datadir="$D"/mysql/data \
      --socket="$DB_SOCKET" --pid-file="$D"/mysql/mariadbd.pid --port="$DB_PORT" \
      --bind-address=127.0.0.1 --skip-name-resolve --log-error="$D"/mysql/mariadb.log \
      --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 \
      </dev/null >/dev/null 2>&1 &
    wait_for 60 mariadb-admin --no-defaults --socket="$DB_SOCKET" -u root ping ||
      { show_log "$D"/mysql/mariadb.log; die "mariadbd does not answer on $DB_SOCKET"; }
    wait_for 10 pid_of mariadbd || die "mariadbd answers, but its pid file $D/mysql/mariadbd.pid is missing"
    say "mariadbd up (127.0.0.1:$DB_PORT, data $D/mysql/data)"
  fi
  local pass; pass=$(cat "$D"/etc/db.pass)
  db -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
         CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
         CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
         ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
         ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" ||
    die "could not create the accounting database and its user in MariaDB"
}

start_slurmdbd() {
  if ! pid_of slurmdbd >/dev/null; then
    check_port "$DBD_PORT" slurmdbd
    env "$MARKER" slurmdbd </dev/null >/dev/null 2>&1 || { show_log "$D"/log/slurmdbd.log; die "slurmdbd did not start"; }
  fi
  wait_for 60 sacctmgr -n list cluster ||
    { show_log "$D"/log/slurmdbd.log; die "slurmdbd does not answer on 127.0.0.1:$DBD_PORT"; }
  say "slurmdbd up (127.0.0.1:$DBD_PORT)"
}

register() {  # the cluster, the account, root's association: each only when missing
  sacctmgr -n -P list cluster format=cluster | grep -qxF "$CLUSTER" ||
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr could not add cluster $CLUSTER"
  sacctmgr -n -P list account "$ACCOUNT" format=account | grep -qxF "$ACCOUNT" ||
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="dth pipeline" organization=dth >/dev/null ||
    die "sacctmgr could not add account $ACCOUNT"
  sacctmgr -n -P list assoc cluster="$CLUSTER" account="$ACCOUNT" user=root format=user | grep -qxF root ||
    sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null ||
    die "sacctmgr could not let root use account $ACCOUNT"
}

start_slurmctld() {
  if ! pid_of slurmctld >/dev/null; then
    check_port "$CTLD_PORT" slurmctld
    env "$MARKER" slurmctld -f "$CONF" </dev/null >/dev/null 2>&1 || { show_log "$D"/log/slurmctld.log; die "slurmctld did not start"; }
  fi
  ctld_up() { scontrol ping | grep -q 'is UP'; }
  wait_for 60 ctld_up || { show_log "$D"/log/slurmctld.log; die "slurmctld does not answer on 127.0.0.1:$CTLD_PORT"; }
  say "slurmctld up (127.0.0.1:$CTLD_PORT)"
}

start_slurmd() {
  if ! pid_of slurmd >/dev/null; then
    check_port "$SLURMD_PORT" slurmd
    env "$MARKER" slurmd -f "$CONF" </dev/null >/dev/null 2>&1 || { show_log "$D"/log/slurmd.log; die "slurmd did not start"; }
  fi
  node_ready() { sinfo -h -N -n "$NODE" -o %t | grep -Eq '^(idle|mix|alloc|comp)'; }
  if ! wait_for 30 node_ready; then
    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
    wait_for 30 node_ready || {
      show_log "$D"/log/slurmd.log; scontrol show node "$NODE" >&2 || true
      die "node $NODE is not ready: $(sinfo -h -N -n "$NODE" -o '%t %E' 2>&1)"; }
  fi
  say "slurmd up: node $NODE in partition $PARTITION ($(sinfo -h -N -n "$NODE" -o '%c CPUs, %m MB'))"
}

DAEMONS="munged mariadbd slurmdbd slurmctld slurmd"

our_link() { [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$CONF" ]; }

check_system_conf() {  # /etc/slurm/slurm.conf: absent, or our link
  our_link && return 0
  if [ -e "$SYSTEM_CONF" ] || [ -L "$SYSTEM_CONF" ]; then
    cannot "$SYSTEM_CONF is another Slurm's configuration (this script links it to $CONF): move it away first"
  fi
}

link_system_conf() { our_link || { mkdir -p "$(dirname "$SYSTEM_CONF")" && ln -s "$CONF" "$SYSTEM_CONF"; }; }

# Removed by `down`: with a config but no slurmctld, every Slurm client command waits for
# the controller (`scontrol show config`: 9 s), and the Slurm plugin runs that command when
# Snakemake starts, even for local runs; with no config it fails at once.
unlink_system_conf() { if our_link; then rm -f "$SYSTEM_CONF"; fi; }

running() {  # every daemon up (munged: ours, or the machine's own that we use)
  local d
  pid_of munged >/dev/null || munge_ok >/dev/null 2>&1 || return 1
  for d in mariadbd slurmdbd slurmctld slurmd; do pid_of "$d" >/dev/null || return 1; done
}

cmd_up() {
  [ "$(id -u)" = 0 ] || cannot "must run as root (it installs packages and starts system daemons); you are $(id -un)"
  [ -r /proc/self/environ ] || cannot "/proc is not readable"
  install_packages
  NODE=$(hostname -s)
  if running && scontrol ping 2>/dev/null | grep -q 'is UP'; then
    check_system_conf
    link_system_conf
    register
    say "already up: partition $PARTITION, account $ACCOUNT"
    cmd_env
    return 0
  fi
  # a half-started cluster (a daemon died, the machine was not shut down cleanly): stop the
  # rest and start again, from the state kept in $D
  if [ -n "$(all_ours)" ]; then say "some daemons are not running: restarting all"; cmd_down; fi
  for port in "$DB_PORT:mariadbd" "$DBD_PORT:slurmdbd" "$CTLD_PORT:slurmctld" "$SLURMD_PORT:slurmd"; do
    check_port "${port%%:*}" "${port#*:}"
  done
  check_system_conf
  write_config
  start_munge
  start_mariadb
  start_slurmdbd
  register
  start_slurmctld
  start_slurmd
  say "up: cluster $CLUSTER, partition $PARTITION ($CPUS CPUs, $MEM MB), account $ACCOUNT; state and logs in $D"
  cmd_env
}

cmd_env() {  # for eval: where clients find the cluster, and the account and partition to use
  echo "export SLURM_CONF=$CONF DTH_SLURM_ACCOUNT=$ACCOUNT DTH_SLURM_PARTITION=$PARTITION"
}

cmd_status() {
  local d pid ok=0
  for d in $DAEMONS; do
    if pid=$(pid_of "$d"); then echo "$d: running (pid $pid)"
    elif [ "$d" = munged ] && munge_ok >/dev/null 2>&1; then echo "munged: the machine's own, on $MUNGE_SOCKET"
    else echo "$d: not running"; ok=1; fi
  done
  if [ "$ok" = 0 ]; then sinfo -N -o '%N %P %t %c %m' || ok=1; fi
  return $ok
}

cmd_down() {
  local d pid left
  if pid_of slurmctld >/dev/null && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    say "cancelling the jobs still queued or running"
    scancel --full --cluster="$CLUSTER" $(squeue -h -o %i) 2>/dev/null || true
    jobs_gone() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
    wait_for 30 jobs_gone || say "jobs still listed after 30 s: stopping the daemons anyway"
  fi
  for d in slurmd slurmctld slurmdbd mariadbd munged; do
    pid=$(pid_of "$d") && stop_pid "$pid" "$d"
  done
  # anything else started from here (slurmstepd of a killed job, a stray job step): by pid
  for pid in $(all_ours); do stop_pid "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)"; done
  unlink_system_conf
  left=$(all_ours)
  [ -z "$left" ] || die "still running after down: $left"
  say "down: no daemon of $D is running"
}

cmd_purge() {
  cmd_down
  rm -rf "$D"
  say "removed $D"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  purge) cmd_purge ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
