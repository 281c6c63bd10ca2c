#!/usr/bin/env bash
# ops/services.sh — run real Apache Kafka (KRaft), Redis and PostgreSQL natively (no Docker)
# for local development and tests of Zzalu Realtime.
#
# Usage:
#   ops/services.sh start   [SERVICE]   start kafka+redis (default) or one SERVICE
#   ops/services.sh stop    [SERVICE]   stop kafka+redis (default) or one SERVICE
#   ops/services.sh restart [SERVICE]   stop + start (keeps data dirs: topics, databases)
#   ops/services.sh status  [SERVICE]   running/stopped, pid, port (always exit 0)
#
#   SERVICE: kafka | redis        single-node Kafka on 9092, Redis on 6379 (the default pair)
#            postgres             our own PostgreSQL cluster on 127.0.0.1:5432, role/db zzalu
#            cluster              3-node Kafka KRaft cluster on 29092/29093/29094 (replication tests)
#            cluster-1|-2|-3      one node of that cluster (e.g. `stop cluster-2` to lose a broker)
#   postgres and cluster are only managed when named; plain start/stop/status never touch them.
#
# All state lives in <repo>/.local/ (git-ignored):
#   .local/kafka/libs        broker jars (resolved by Maven from ops/kafka/pom.xml; ~/.m2 caches)
#   .local/kafka/data        KRaft log dirs (formatted once; survives restarts)
#   .local/kafka/logs        broker log4j2 logs (server.log)
#   .local/kafka/server.properties   generated on every start
#   .local/redis/            Redis working dir (no persistence)
#   .local/postgres/data     PostgreSQL cluster (initdb once; owned by the `postgres` OS user when run as root)
#   .local/cluster/node-N/   cluster node N: server.properties (generated), data/, logs/server.log
#   .local/run/*.pid         pids of the processes we started (postgres: also data/postmaster.pid)
#   .local/run/postgres/     PostgreSQL unix socket directory
#   .local/log/*.log         stdout/stderr of our processes, maven, storage format, redis, postgres
#
# Environment overrides:
#   KAFKA_PORT (9092)  KAFKA_CONTROLLER_PORT (9093)  KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m")
#   KAFKA_JVM_PERFORMANCE_OPTS  KAFKA_OPTS (extra JVM args)  KAFKA_START_TIMEOUT (60 s)
#   REDIS_PORT (6379)  REDIS_START_TIMEOUT (15 s)  STOP_TIMEOUT (20 s)  MVN_TIMEOUT (900 s)
#   PG_PORT (5432)  PG_USER / PG_PASSWORD / PG_DATABASE (zzalu / zzalu / zzalu)
#   PG_BIN (newest /usr/lib/postgresql/*/bin)  PG_START_TIMEOUT (60 s)
#   CLUSTER_PORTS ("29092 29093 29094")  CLUSTER_CONTROLLER_PORTS ("29192 29193 29194")
#   CLUSTER_HEAP_OPTS ("-Xms128m -Xmx256m")  CLUSTER_JVM_PERFORMANCE_OPTS  CLUSTER_KAFKA_OPTS
#   CLUSTER_START_TIMEOUT (150 s)
#
# The Kafka version is pinned in ops/kafka/VERSION (keep the pom default and the
# docker-compose image tag apache/kafka:<version> in sync).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
LOCAL="$ROOT/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/log"

KAFKA_DIR="$SCRIPT_DIR/kafka"
KAFKA_VERSION_FILE="$KAFKA_DIR/VERSION"
KAFKA_POM="$KAFKA_DIR/pom.xml"
KAFKA_LOG4J="$KAFKA_DIR/log4j2.xml"
KAFKA_HOME="$LOCAL/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_LOGS="$KAFKA_HOME/logs"
KAFKA_PROPS="$KAFKA_HOME/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_HOME/cluster.id"
KAFKA_FORMAT_STAMP="$KAFKA_HOME/formatted-with"
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
KAFKA_PORTS_FILE="$RUN_DIR/kafka.ports"   # "<port> <controller port>" of the running broker
KAFKA_STDOUT="$LOG_DIR/kafka.log"
KAFKA_SERVER_LOG="$KAFKA_LOGS/server.log"

REDIS_HOME="$LOCAL/redis"
REDIS_PID_FILE="$RUN_DIR/redis.pid"
REDIS_PORT_FILE="$RUN_DIR/redis.port"    # port of the running redis
REDIS_LOG="$LOG_DIR/redis.log"

HOST=127.0.0.1
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
KAFKA_OPTS=${KAFKA_OPTS:-}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_START_TIMEOUT=${REDIS_START_TIMEOUT:-15}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
MVN_TIMEOUT=${MVN_TIMEOUT:-900}

PG_HOME="$LOCAL/postgres"
PG_DATA="$PG_HOME/data"
PG_LOCAL_CONF="zzalu-local.conf"          # generated into $PG_DATA on every start
PG_PID_FILE="$RUN_DIR/postgres.pid"
PG_PORT_FILE="$RUN_DIR/postgres.port"     # port of the running postgres
PG_LOG="$LOG_DIR/postgres.log"
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-zzalu}
PG_PASSWORD=${PG_PASSWORD:-zzalu}
PG_DATABASE=${PG_DATABASE:-zzalu}
PG_BIN=${PG_BIN:-}
PG_START_TIMEOUT=${PG_START_TIMEOUT:-60}

CLUSTER_HOME="$LOCAL/cluster"
CLUSTER_ID_FILE="$CLUSTER_HOME/cluster.id"
CLUSTER_PORTS_FILE="$RUN_DIR/cluster.ports"   # "<client ports...> / <controller ports...>" while any node runs
CLUSTER_PORTS=${CLUSTER_PORTS:-29092 29093 29094}
CLUSTER_CONTROLLER_PORTS=${CLUSTER_CONTROLLER_PORTS:-29192 29193 29194}
CLUSTER_HEAP_OPTS=${CLUSTER_HEAP_OPTS:--Xms128m -Xmx256m}
# Three JVMs share 2 cores with the single node and the tests: SerialGC (no parallel GC
# threads; fine for a 256 MB heap) and C1-only JIT (TieredStopAtLevel=1: ~30% faster
# start, far less compile CPU; plenty for test traffic).
CLUSTER_JVM_PERFORMANCE_OPTS=${CLUSTER_JVM_PERFORMANCE_OPTS:--server -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}
CLUSTER_KAFKA_OPTS=${CLUSTER_KAFKA_OPTS:-}
CLUSTER_START_TIMEOUT=${CLUSTER_START_TIMEOUT:-150}
CLUSTER_SIZE=3

# ----------------------------------------------------------------------------- helpers

log()  { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
err()  { printf '[services] ERROR: %s\n' "$*" >&2; }
die()  { err "$@"; exit 1; }

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

validate_env() {
  local v
  for v in KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT KAFKA_START_TIMEOUT REDIS_START_TIMEOUT STOP_TIMEOUT MVN_TIMEOUT \
           PG_PORT PG_START_TIMEOUT CLUSTER_START_TIMEOUT; do
    is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
  done
  [[ $KAFKA_PORT != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
}

validate_pg_env() {
  local v
  for v in PG_USER PG_DATABASE; do
    [[ ${!v} =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "$v must be a plain lower-case SQL identifier (got '${!v}')"
  done
  # Spliced into SQL and into DATABASE_URL: keep it URL- and quote-safe.
  [[ $PG_PASSWORD =~ ^[A-Za-z0-9._~-]+$ ]] || die "PG_PASSWORD may only contain A-Z a-z 0-9 . _ ~ - (got '$PG_PASSWORD')"
}

validate_cluster_env() {
  local p seen=" "
  read -r -a CL_PORTS <<<"$CLUSTER_PORTS"
  read -r -a CL_CPORTS <<<"$CLUSTER_CONTROLLER_PORTS"
  ((${#CL_PORTS[@]} == CLUSTER_SIZE)) || die "CLUSTER_PORTS must list $CLUSTER_SIZE ports (got '$CLUSTER_PORTS')"
  ((${#CL_CPORTS[@]} == CLUSTER_SIZE)) || die "CLUSTER_CONTROLLER_PORTS must list $CLUSTER_SIZE ports (got '$CLUSTER_CONTROLLER_PORTS')"
  for p in "${CL_PORTS[@]}" "${CL_CPORTS[@]}"; do
    if ! is_uint "$p" || ((p == 0 || p > 65535)); then
      die "cluster: '$p' is not a valid port (CLUSTER_PORTS / CLUSTER_CONTROLLER_PORTS)"
    fi
    [[ $seen != *" $p "* ]] || die "cluster: port $p is listed twice in CLUSTER_PORTS / CLUSTER_CONTROLLER_PORTS"
    seen+="$p "
    if [[ $p == "$KAFKA_PORT" || $p == "$KAFKA_CONTROLLER_PORT" ]]; then
      die "cluster: port $p is also the single node's KAFKA_PORT/KAFKA_CONTROLLER_PORT; pick other CLUSTER_PORTS"
    fi
  done
}

# TCP connect succeeds?
# (SC2016: the single-quoted scripts get their values as $0/$1 on purpose.)
# shellcheck disable=SC2016
port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# Who listens on a port (informational only, never used to kill anything).
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -1 || true
}

# A real Kafka protocol round trip: send ApiVersions (v0) and expect our
# correlation id (0x2a) back.  Works without any client tooling installed.
# shellcheck disable=SC2016
kafka_answers() {
  local out
  out=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x2a\xff\xff" >&3
    head -c 8 <&3 | od -An -tx1
  ' "$HOST" "${1:-$KAFKA_PORT}" 2>/dev/null) || return 1
  out=${out//[[:space:]]/}   # e.g. "000001a60000002a": size, then correlation id
  [[ ${#out} == 16 && ${out:8} == 0000002a ]]
}

# shellcheck disable=SC2016
redis_answers() {
  local port=${1:-$REDIS_PORT} out
  if command -v redis-cli >/dev/null 2>&1; then
    out=$(timeout 3 redis-cli -h "$HOST" -p "$port" ping 2>/dev/null) || return 1
  else
    out=$(timeout 3 bash -c '
      exec 3<>"/dev/tcp/$0/$1" || exit 1
      printf "PING\r\n" >&3
      head -c 5 <&3
    ' "$HOST" "$port" 2>/dev/null) || return 1
    out=${out#+}
  fi
  [[ $out == PONG* ]]
}

# Alive = exists and is not a zombie (daemons are reparented to pid 1, which
# may reap late; a zombie still passes `kill -0`).
pid_alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# Is pid the Kafka broker of THIS checkout (guards against pid reuse)?
is_our_kafka() {
  pid_alive "$1" || return 1
  [[ $(cmdline_of "$1") == *"kafka.Kafka $KAFKA_PROPS"* ]]
}

is_our_redis() {
  pid_alive "$1" || return 1
  [[ $(cat "/proc/$1/comm" 2>/dev/null) == redis-server* ]]
}

read_pid_file() {
  local f=$1 pid=""
  [[ -f $f ]] && pid=$(tr -dc '0-9' <"$f" 2>/dev/null || true)
  printf '%s' "$pid"
}

# Prints the pid of our running process for a service; cleans a stale pid file.
our_pid() {
  local svc=$1 file side pid
  case $svc in
    kafka) file=$KAFKA_PID_FILE side=$KAFKA_PORTS_FILE ;;
    redis) file=$REDIS_PID_FILE side=$REDIS_PORT_FILE ;;
  esac
  pid=$(read_pid_file "$file")
  if [[ -z $pid ]]; then
    rm -f "$file" "$side"
    return 0
  fi
  if "is_our_$svc" "$pid"; then
    printf '%s' "$pid"
  else
    log "$svc: removing stale pid file ($file, pid $pid is not running)" >&2
    rm -f "$file" "$side"
  fi
}

# Ports our running process was started with (env may differ now).
kafka_running_ports() {
  RUN_KPORT=$KAFKA_PORT RUN_CPORT=$KAFKA_CONTROLLER_PORT
  [[ -f $KAFKA_PORTS_FILE ]] && read -r RUN_KPORT RUN_CPORT <"$KAFKA_PORTS_FILE"
  return 0
}
redis_running_port() {
  RUN_RPORT=$REDIS_PORT
  [[ -f $REDIS_PORT_FILE ]] && read -r RUN_RPORT <"$REDIS_PORT_FILE"
  return 0
}

wait_port_closed() {
  local port=$1 i
  for ((i = 0; i < 20; i++)); do
    port_open "$port" || return 0
    sleep 0.25
  done
  return 1
}

# SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL. Only ever called with a pid we recorded.
# stop_pid NAME PID [JVM_STDOUT_LOG] — with a log, a JVM that hangs gets SIGQUIT first, so
# its thread dump lands in that log for diagnosis.
stop_pid() {
  local name=$1 pid=$2 dump_log=${3:-} i
  log "$name: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    pid_alive "$pid" || { log "$name: stopped"; return 0; }
    sleep 0.25
  done
  if [[ -n $dump_log ]]; then
    kill -QUIT "$pid" 2>/dev/null && sleep 1
    warn "$name: pid $pid still alive after ${STOP_TIMEOUT}s (thread dump written to $dump_log), sending SIGKILL"
  else
    warn "$name: pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
  fi
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    pid_alive "$pid" || { log "$name: killed"; return 0; }
    sleep 0.25
  done
  err "$name: pid $pid did not die even after SIGKILL"
  return 1
}

show_tail() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
    printf -- '-----\n' >&2
  done
}

# One lock per group, so e.g. `stop cluster-2` in a test does not wait behind a
# slow `start postgres`: services (kafka+redis), postgres, cluster.
take_lock() {
  local lock="$RUN_DIR/${1:-services}.lock"
  mkdir -p "$RUN_DIR"
  exec 9>"$lock"
  flock -w 180 9 || die "another ops/services.sh invocation holds $lock"
}

# ----------------------------------------------------------------------------- prerequisites

ensure_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found. Kafka $(kafka_version) needs Java 17+: apt-get install -y openjdk-17-jre-headless"
  local v major
  v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  major=${v%%.*}
  [[ $major == 1 ]] && major=$(cut -d. -f2 <<<"$v")
  if is_uint "${major:-x}" && ((major < 17)); then
    die "java $v is too old; Kafka 4.x brokers need Java 17+: apt-get install -y openjdk-17-jre-headless"
  fi
}

ensure_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found (needed once to download the Kafka jars): apt-get install -y maven"
}

kafka_version() {
  [[ -f $KAFKA_VERSION_FILE ]] || die "missing $KAFKA_VERSION_FILE"
  tr -d '[:space:]' <"$KAFKA_VERSION_FILE"
}

ensure_kafka_libs() {
  local version pom_version tmp start
  version=$(kafka_version)
  pom_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -1)
  [[ $pom_version == "$version" ]] ||
    die "Kafka version mismatch: ops/kafka/VERSION=$version but ops/kafka/pom.xml <kafka.version>=$pom_version"
  if [[ -f $KAFKA_LIBS/.kafka-version && $(cat "$KAFKA_LIBS/.kafka-version") == "$version" &&
        -f $KAFKA_LIBS/kafka_2.13-$version.jar ]]; then
    return 0
  fi
  # kafka and cluster hold different group locks: serialise the download itself.
  exec 8>"$RUN_DIR/kafka-libs.lock"
  flock -w "$MVN_TIMEOUT" 8 || die "kafka: another invocation is still resolving the Kafka jars ($RUN_DIR/kafka-libs.lock)"
  if [[ -f $KAFKA_LIBS/.kafka-version && $(cat "$KAFKA_LIBS/.kafka-version") == "$version" &&
        -f $KAFKA_LIBS/kafka_2.13-$version.jar ]]; then
    exec 8>&-
    return 0
  fi
  ensure_mvn
  log "kafka: resolving org.apache.kafka:kafka_2.13:$version with Maven (cached in ~/.m2) ..."
  start=$SECONDS
  tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp" "$LOG_DIR"
  if ! timeout "$MVN_TIMEOUT" mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" \
        -Dkafka.version="$version" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        </dev/null >"$LOG_DIR/maven.log" 2>&1 8>&- 9>&-; then
    rm -rf "$tmp"
    show_tail "$LOG_DIR/maven.log"
    die "Maven could not resolve the Kafka jars (see $LOG_DIR/maven.log; is Maven Central reachable?)"
  fi
  [[ -f $tmp/kafka_2.13-$version.jar ]] || { rm -rf "$tmp"; die "Maven finished but kafka_2.13-$version.jar is missing"; }
  echo "$version" >"$tmp/.kafka-version"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  exec 8>&-
  local jars=("$KAFKA_LIBS"/*.jar)
  log "kafka: ${#jars[@]} jars in $KAFKA_LIBS ($((SECONDS - start))s)"
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "redis-server not found and apt-get is unavailable; install Redis (>= 6) manually"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "redis-server not found; run as root or: sudo apt-get install -y redis-server"
    sudo=(sudo -n)
  fi
  log "redis: redis-server not found, installing Debian's redis-server (apt-get) ..."
  # A temporary policy-rc.d stops the package from auto-starting its own
  # instance on 6379 (we always run our own, see below).
  (
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
      "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
      trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null 9>&- &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold redis-server </dev/null 9>&-
  ) >"$LOG_DIR/apt-redis.log" 2>&1 || { show_tail "$LOG_DIR/apt-redis.log"; die "apt-get install redis-server failed (see $LOG_DIR/apt-redis.log)"; }
  # On systemd hosts also make sure the packaged service does not come up at boot.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    "${sudo[@]}" systemctl disable --now redis-server.service >/dev/null 2>&1 || true
    log "redis: disabled the Debian redis-server.service (this script runs its own instance)"
  fi
  command -v redis-server >/dev/null 2>&1 || die "redis-server still not found after apt-get install"
  log "redis: installed $(redis-server --version | awk '{print $3}' | sed 's/^v=//')"
}

# ----------------------------------------------------------------------------- kafka

kafka_write_config() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  cat >"$KAFKA_PROPS" <<EOF
# GENERATED by ops/services.sh on every start — do not edit (edit the script).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=1073741824
EOF
}

# kafka_java_cmd [HEAP_OPTS PERF_OPTS EXTRA_OPTS LOGS_DIR]  (defaults: the single node's)
kafka_java_cmd() {
  local heap perf extra
  read -r -a heap <<<"${1-$KAFKA_HEAP_OPTS}"
  read -r -a perf <<<"${2-$KAFKA_JVM_PERFORMANCE_OPTS}"
  read -r -a extra <<<"${3-$KAFKA_OPTS}"
  JAVA_CMD=(java "${heap[@]}" "${perf[@]}"
    "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=${4-$KAFKA_LOGS}"
    "${extra[@]}" -cp "$KAFKA_LIBS/*")
}

kafka_format_if_needed() {
  local stamp="controller=$HOST:$KAFKA_CONTROLLER_PORT" cluster_id
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    if [[ -f $KAFKA_FORMAT_STAMP && $(cat "$KAFKA_FORMAT_STAMP") != "$stamp" ]]; then
      warn "kafka: $KAFKA_DATA was formatted with $(cat "$KAFKA_FORMAT_STAMP") but now $stamp;" \
           "if the broker does not come up, run: ops/services.sh stop kafka && rm -rf '$KAFKA_DATA'"
    fi
    return 0
  fi
  kafka_java_cmd
  if [[ -s $KAFKA_CLUSTER_ID_FILE ]]; then
    cluster_id=$(cat "$KAFKA_CLUSTER_ID_FILE")
  else
    cluster_id=$("${JAVA_CMD[@]}" kafka.tools.StorageTool random-uuid </dev/null 2>>"$LOG_DIR/kafka-storage.log" 9>&- | tail -n 1) ||
      die "kafka: StorageTool random-uuid failed (see $LOG_DIR/kafka-storage.log)"
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: unexpected cluster id '$cluster_id'"
    echo "$cluster_id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  log "kafka: formatting $KAFKA_DATA (cluster id $cluster_id, standalone KRaft quorum)"
  if ! "${JAVA_CMD[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_PROPS" --standalone \
        </dev/null >>"$LOG_DIR/kafka-storage.log" 2>&1 9>&-; then
    show_tail "$LOG_DIR/kafka-storage.log"
    die "kafka: storage format failed (see $LOG_DIR/kafka-storage.log)"
  fi
  echo "$stamp" >"$KAFKA_FORMAT_STAMP"
}

kafka_started_in_log_since() {
  local offset=$1 size
  [[ -f $KAFKA_SERVER_LOG ]] || return 1
  size=$(stat -c %s "$KAFKA_SERVER_LOG")
  if ((size < offset)); then offset=0; fi   # rolled over meanwhile
  tail -c +"$((offset + 1))" "$KAFKA_SERVER_LOG" | grep -q 'Kafka Server started'
}

# wait_kafka_ready PID LOG_OFFSET  (LOG_OFFSET empty = only check the protocol)
kafka_wait_ready() {
  local pid=$1 offset=$2 deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! pid_alive "$pid"; then
      err "kafka: broker process $pid exited during startup"
      show_tail "$KAFKA_STDOUT" "$KAFKA_SERVER_LOG"
      rm -f "$KAFKA_PID_FILE" "$KAFKA_PORTS_FILE"
      return 1
    fi
    if { [[ -z $offset ]] || kafka_started_in_log_since "$offset"; } && kafka_answers "$KAFKA_PORT"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      err "kafka: broker (pid $pid) did not answer on $HOST:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s"
      show_tail "$KAFKA_STDOUT" "$KAFKA_SERVER_LOG"
      return 1
    fi
    sleep 0.5
  done
}

kafka_start() {
  local pid offset start=$SECONDS
  pid=$(our_pid kafka)
  if [[ -n $pid ]]; then
    kafka_running_ports
    if [[ "$RUN_KPORT $RUN_CPORT" != "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ]]; then
      die "kafka: our broker (pid $pid) is already running on ports $RUN_KPORT/$RUN_CPORT, not the requested" \
          "$KAFKA_PORT/$KAFKA_CONTROLLER_PORT; run 'ops/services.sh stop kafka' first"
    fi
    if kafka_answers "$KAFKA_PORT"; then
      log "kafka: already running (pid $pid, $HOST:$KAFKA_PORT, controller $KAFKA_CONTROLLER_PORT)"
      return 0
    fi
    log "kafka: pid $pid is running but not answering yet, waiting up to ${KAFKA_START_TIMEOUT}s ..."
    kafka_wait_ready "$pid" "" || return 1
    log "kafka: ready (pid $pid, $HOST:$KAFKA_PORT)"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    if kafka_answers "$KAFKA_PORT"; then
      log "kafka: NOTE: $HOST:$KAFKA_PORT is already served by a Kafka broker that was NOT started by this script" \
          "($(port_owner "$KAFKA_PORT")) — reusing it, not starting a second one"
      return 0
    fi
    die "kafka: port $KAFKA_PORT is in use by something that does not speak Kafka ($(port_owner "$KAFKA_PORT")); set KAFKA_PORT or free the port"
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "kafka: controller port $KAFKA_CONTROLLER_PORT is already in use ($(port_owner "$KAFKA_CONTROLLER_PORT")); set KAFKA_CONTROLLER_PORT or free the port"
  fi

  ensure_java
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$KAFKA_HOME"
  ensure_kafka_libs
  kafka_write_config
  kafka_format_if_needed

  offset=0
  [[ -f $KAFKA_SERVER_LOG ]] && offset=$(stat -c %s "$KAFKA_SERVER_LOG")
  kafka_java_cmd
  printf '\n===== %s starting kafka %s =====\n' "$(date -Is)" "$(kafka_version)" >>"$KAFKA_STDOUT"
  # setsid: own session, immune to the caller's SIGHUP/Ctrl-C. The background
  # child is never a process-group leader, so setsid execs in place and $! is
  # the JVM's pid. fd 9 (our flock) must not leak into the daemon.
  setsid "${JAVA_CMD[@]}" kafka.Kafka "$KAFKA_PROPS" </dev/null >>"$KAFKA_STDOUT" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$KAFKA_PID_FILE"
  echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" >"$KAFKA_PORTS_FILE"
  log "kafka: started pid $pid, waiting for $HOST:$KAFKA_PORT (timeout ${KAFKA_START_TIMEOUT}s) ..."
  if ! kafka_wait_ready "$pid" "$offset"; then
    if pid_alive "$pid"; then
      stop_pid kafka "$pid" || true
      rm -f "$KAFKA_PID_FILE" "$KAFKA_PORTS_FILE"
    fi
    die "kafka: failed to start (logs: $KAFKA_STDOUT, $KAFKA_SERVER_LOG)"
  fi
  log "kafka: ready (pid $pid, $HOST:$KAFKA_PORT, controller $KAFKA_CONTROLLER_PORT) in $((SECONDS - start))s"
}

kafka_stop() {
  local pid
  pid=$(our_pid kafka)
  if [[ -z $pid ]]; then
    if port_open "$KAFKA_PORT"; then
      log "kafka: not running (ours); NOTE: port $KAFKA_PORT is served by a process we did not start ($(port_owner "$KAFKA_PORT")) — leaving it alone"
    else
      log "kafka: not running"
    fi
    return 0
  fi
  kafka_running_ports
  stop_pid kafka "$pid" || return 1
  rm -f "$KAFKA_PID_FILE" "$KAFKA_PORTS_FILE"
  wait_port_closed "$RUN_KPORT" || warn "kafka: port $RUN_KPORT still open after stop"
  wait_port_closed "$RUN_CPORT" || warn "kafka: port $RUN_CPORT still open after stop"
}

kafka_status() {
  local pid state
  pid=$(our_pid kafka)
  if [[ -n $pid ]]; then
    kafka_running_ports
    state="not answering yet"
    kafka_answers "$RUN_KPORT" && state="answering"
    printf 'kafka: running  pid=%s  %s:%s (controller %s)  %s  [kafka %s]\n' \
      "$pid" "$HOST" "$RUN_KPORT" "$RUN_CPORT" "$state" "$(kafka_version)"
  elif kafka_answers "$KAFKA_PORT"; then
    printf 'kafka: stopped (ours)  but %s:%s is answered by a broker NOT managed by this script %s\n' \
      "$HOST" "$KAFKA_PORT" "$(port_owner "$KAFKA_PORT")"
  else
    printf 'kafka: stopped  port=%s\n' "$KAFKA_PORT"
  fi
}

# ----------------------------------------------------------------------------- redis

redis_wait_ready() {
  local deadline=$((SECONDS + REDIS_START_TIMEOUT)) pid
  while :; do
    pid=$(read_pid_file "$REDIS_PID_FILE")
    if [[ -n $pid ]] && pid_alive "$pid" && redis_answers "$REDIS_PORT"; then
      printf '%s' "$pid"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      err "redis: did not answer PING on $HOST:$REDIS_PORT within ${REDIS_START_TIMEOUT}s"
      show_tail "$REDIS_LOG"
      return 1
    fi
    sleep 0.2
  done
}

redis_start() {
  local pid start=$SECONDS
  pid=$(our_pid redis)
  if [[ -n $pid ]]; then
    redis_running_port
    if [[ $RUN_RPORT != "$REDIS_PORT" ]]; then
      die "redis: our redis (pid $pid) is already running on port $RUN_RPORT, not the requested $REDIS_PORT;" \
          "run 'ops/services.sh stop redis' first"
    fi
    if redis_answers "$REDIS_PORT"; then
      log "redis: already running (pid $pid, $HOST:$REDIS_PORT)"
      return 0
    fi
    log "redis: pid $pid is running but not answering yet, waiting ..."
    pid=$(redis_wait_ready) || return 1
    log "redis: ready (pid $pid, $HOST:$REDIS_PORT)"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    if redis_answers "$REDIS_PORT"; then
      log "redis: NOTE: $HOST:$REDIS_PORT is already served by a Redis NOT started by this script" \
          "($(port_owner "$REDIS_PORT")) — reusing it, not starting a second one"
      return 0
    fi
    die "redis: port $REDIS_PORT is in use by something that does not answer Redis PING ($(port_owner "$REDIS_PORT")); set REDIS_PORT or free the port"
  fi

  mkdir -p "$RUN_DIR" "$LOG_DIR" "$REDIS_HOME"
  ensure_redis
  rm -f "$REDIS_PID_FILE"
  echo "$REDIS_PORT" >"$REDIS_PORT_FILE"
  # --daemonize: redis forks and writes its own pid file. Config comes only
  # from the command line (the Debian /etc/redis/redis.conf is not used).
  # shellcheck disable=SC2094  # redis and our redirect both only append to REDIS_LOG
  if ! redis-server --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
        --daemonize yes --pidfile "$REDIS_PID_FILE" --dir "$REDIS_HOME" \
        --logfile "$REDIS_LOG" --save '' --appendonly no \
        </dev/null >>"$REDIS_LOG" 2>&1 9>&-; then
    show_tail "$REDIS_LOG"
    die "redis: redis-server failed to launch"
  fi
  if ! pid=$(redis_wait_ready); then
    pid=$(read_pid_file "$REDIS_PID_FILE")
    if [[ -n $pid ]] && is_our_redis "$pid"; then stop_pid redis "$pid" || true; fi
    rm -f "$REDIS_PID_FILE" "$REDIS_PORT_FILE"
    die "redis: failed to start (log: $REDIS_LOG)"
  fi
  log "redis: ready (pid $pid, $HOST:$REDIS_PORT) in $((SECONDS - start))s"
}

redis_stop() {
  local pid
  pid=$(our_pid redis)
  if [[ -z $pid ]]; then
    if port_open "$REDIS_PORT"; then
      log "redis: not running (ours); NOTE: port $REDIS_PORT is served by a process we did not start ($(port_owner "$REDIS_PORT")) — leaving it alone"
    else
      log "redis: not running"
    fi
    return 0
  fi
  redis_running_port
  stop_pid redis "$pid" || return 1
  rm -f "$REDIS_PID_FILE" "$REDIS_PORT_FILE"
  wait_port_closed "$RUN_RPORT" || warn "redis: port $RUN_RPORT still open after stop"
}

redis_status() {
  local pid state
  pid=$(our_pid redis)
  if [[ -n $pid ]]; then
    redis_running_port
    state="not answering"
    redis_answers "$RUN_RPORT" && state="answering"
    printf 'redis: running  pid=%s  %s:%s  %s\n' "$pid" "$HOST" "$RUN_RPORT" "$state"
  elif redis_answers "$REDIS_PORT"; then
    printf 'redis: stopped (ours)  but %s:%s is answered by a Redis NOT managed by this script %s\n' \
      "$HOST" "$REDIS_PORT" "$(port_owner "$REDIS_PORT")"
  else
    printf 'redis: stopped  port=%s\n' "$REDIS_PORT"
  fi
}

# ----------------------------------------------------------------------------- postgres
#
# Our own cluster in .local/postgres/data, started with Debian's binaries (pg_ctl), never
# the package's `main` cluster or its systemd/init service (those are left alone). As root
# everything server-side runs as the `postgres` OS user (initdb/postgres refuse root).

pg_as_server_user() {
  if ((EUID == 0)); then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

pg_database_url() { printf 'postgres://%s:%s@%s:%s/%s' "$PG_USER" "$PG_PASSWORD" "$HOST" "${1:-$PG_PORT}" "$PG_DATABASE"; }

# Unix sockets have a ~107 byte path limit: fall back to /tmp for deep checkouts.
pg_socket_dir() {
  local dir="$RUN_DIR/postgres"
  if ((${#dir} + 20 > 100)); then
    dir="/tmp/zzalu-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
  fi
  printf '%s' "$dir"
}

pg_find_bin() {
  local d best="" v bestv=0
  if [[ -n $PG_BIN ]]; then
    [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] || die "postgres: PG_BIN=$PG_BIN has no initdb/pg_ctl"
    return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
    v=${d#/usr/lib/postgresql/}
    v=${v%%/*}
    is_uint "$v" && ((v > bestv)) && { bestv=$v; best=$d; }
  done
  PG_BIN=$best
  [[ -n $PG_BIN ]]
}

ensure_postgres() {
  pg_find_bin && [[ -x $PG_BIN/pg_isready && -x $PG_BIN/psql ]] && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin) and apt-get is unavailable; install PostgreSQL or set PG_BIN"
  ((EUID == 0)) || die "PostgreSQL server not found; run as root or: sudo apt-get install -y postgresql"
  mkdir -p "$LOG_DIR"
  log "postgres: server binaries not found, installing Debian's postgresql (apt-get) ..."
  # The package creates a `main` cluster (port 5432) and would start it: a temporary
  # policy-rc.d stops the start; the cluster itself is left alone (we never use it).
  (
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null 8>&- 9>&- &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql </dev/null 8>&- 9>&-
  ) >"$LOG_DIR/apt-postgres.log" 2>&1 || { show_tail "$LOG_DIR/apt-postgres.log"; die "apt-get install postgresql failed (see $LOG_DIR/apt-postgres.log)"; }
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now postgresql.service >/dev/null 2>&1 || true
    log "postgres: disabled the Debian postgresql.service (this script runs its own cluster)"
  fi
  pg_find_bin || die "postgres: still no /usr/lib/postgresql/*/bin/initdb after apt-get install"
  log "postgres: installed $("$PG_BIN/postgres" --version)"
}

# Is pid the postmaster of OUR data directory (guards against pid reuse)?
is_our_postgres() {
  pid_alive "$1" || return 1
  [[ $(cat "/proc/$1/comm" 2>/dev/null) == postgres ]] || return 1
  local cwd
  cwd=$(readlink "/proc/$1/cwd" 2>/dev/null || true)   # the postmaster chdir()s into its data dir
  [[ $cwd == "$PG_DATA" ]] || [[ -z $cwd && $(cmdline_of "$1") == *" -D $PG_DATA"* ]]
}

# Prints our postmaster's pid (from our pid file, else the data dir's postmaster.pid).
postgres_our_pid() {
  local pid
  pid=$(read_pid_file "$PG_PID_FILE")
  if [[ -n $pid ]] && is_our_postgres "$pid"; then
    printf '%s' "$pid"
    return 0
  fi
  [[ -n $pid ]] && log "postgres: removing stale pid file ($PG_PID_FILE, pid $pid is not running)" >&2
  rm -f "$PG_PID_FILE" "$PG_PORT_FILE"
  pid=""
  [[ -f $PG_DATA/postmaster.pid ]] && pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null | tr -dc '0-9')
  if [[ -n $pid ]] && is_our_postgres "$pid"; then
    echo "$pid" >"$PG_PID_FILE"
    sed -n '4p' "$PG_DATA/postmaster.pid" | tr -dc '0-9' >"$PG_PORT_FILE"   # line 4: port
    echo >>"$PG_PORT_FILE"
    printf '%s' "$pid"
  fi
}

postgres_running_port() {
  RUN_PGPORT=$PG_PORT
  [[ -s $PG_PORT_FILE ]] && { read -r RUN_PGPORT <"$PG_PORT_FILE" || true; }
  is_uint "${RUN_PGPORT:-x}" || RUN_PGPORT=$PG_PORT
  return 0
}

pg_psql() {   # the server's own psql (not Debian's pg_wrapper) when we know PG_BIN
  if [[ -n $PG_BIN && -x $PG_BIN/psql ]]; then printf '%s' "$PG_BIN/psql"; else printf psql; fi
}

pg_isready_at() {   # pg_isready_at PORT — the server accepts connections on 127.0.0.1:PORT
  local isready=pg_isready
  [[ -n $PG_BIN && -x $PG_BIN/pg_isready ]] && isready=$PG_BIN/pg_isready
  command -v "$isready" >/dev/null 2>&1 || return 1
  timeout 5 "$isready" -q -h "$HOST" -p "$1" -t 3 >/dev/null 2>&1
}

# Can the app role log in over TCP with its password (what DATABASE_URL does)?
pg_app_login_ok() {
  command -v "$(pg_psql)" >/dev/null 2>&1 || return 1
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 timeout 10 "$(pg_psql)" -X -q -At -w \
    -h "$HOST" -p "${1:-$PG_PORT}" -U "$PG_USER" -d "$PG_DATABASE" -c 'select 1' </dev/null 2>/dev/null | grep -qx 1
}

pg_initdb_if_needed() {
  local version
  version=$("$PG_BIN/postgres" --version | awk '{print $3}')
  version=${version%%.*}
  if [[ -f $PG_DATA/PG_VERSION ]]; then
    [[ $(cat "$PG_DATA/PG_VERSION") == "$version" ]] ||
      die "postgres: $PG_DATA was created by PostgreSQL $(cat "$PG_DATA/PG_VERSION") but $PG_BIN is $version;" \
          "set PG_BIN=/usr/lib/postgresql/$(cat "$PG_DATA/PG_VERSION")/bin, or drop the data: ops/services.sh stop postgres && rm -rf '$PG_DATA'"
    return 0
  fi
  if [[ -d $PG_DATA && -n $(ls -A "$PG_DATA" 2>/dev/null) ]]; then
    die "postgres: $PG_DATA exists but is not a PostgreSQL data directory (no PG_VERSION); remove it: rm -rf '$PG_DATA'"
  fi
  mkdir -p "$PG_DATA"
  chmod 700 "$PG_DATA"
  ((EUID == 0)) && chown postgres:postgres "$PG_DATA"
  local locale=C.UTF-8
  locale -a 2>/dev/null | grep -qix 'C.utf-\{0,1\}8' || locale=C
  log "postgres: initdb $PG_DATA (PostgreSQL $version, UTF8, locale $locale) ..."
  if ! pg_as_server_user "$PG_BIN/initdb" -D "$PG_DATA" --encoding=UTF8 --locale="$locale" \
        --auth-local=peer --auth-host=scram-sha-256 </dev/null >>"$PG_LOG" 2>&1 8>&- 9>&-; then
    show_tail "$PG_LOG"
    rm -rf "$PG_DATA"
    die "postgres: initdb failed (see $PG_LOG)"
  fi
  printf "\n# Added by ops/services.sh: our settings (port, socket, fsync=off, ...), regenerated on every start.\ninclude_if_exists = '%s'\n" \
    "$PG_LOCAL_CONF" >>"$PG_DATA/postgresql.conf"
}

pg_write_config() {
  local sock=$1 f="$PG_DATA/$PG_LOCAL_CONF"
  cat >"$f" <<EOC
# GENERATED by ops/services.sh on every start — do not edit (edit the script).
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$sock'
max_connections = 200
shared_buffers = 128MB
# throwaway test database: durability off for speed
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
log_min_error_statement = error
log_connections = off
log_timezone = 'UTC'
timezone = 'UTC'
EOC
  ((EUID == 0)) && chown postgres:postgres "$f"
  return 0
}

# Role (superuser: tests create/drop test_* databases) and database, idempotently.
pg_provision() {
  local sock=$1
  pg_as_server_user "$(pg_psql)" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -d postgres </dev/null 8>&- 9>&- \
      >>"$PG_LOG" 2>&1 -c "
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;" || { show_tail "$PG_LOG"; return 1; }
  if [[ $(pg_as_server_user "$(pg_psql)" -X -At -h "$sock" -p "$PG_PORT" -d postgres </dev/null 8>&- 9>&- 2>>"$PG_LOG" \
          -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'") != 1 ]]; then
    log "postgres: creating database $PG_DATABASE (owner $PG_USER)"
    pg_as_server_user "$(pg_psql)" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -d postgres </dev/null 8>&- 9>&- \
        >>"$PG_LOG" 2>&1 -c "CREATE DATABASE $PG_DATABASE OWNER $PG_USER ENCODING 'UTF8'" || { show_tail "$PG_LOG"; return 1; }
  fi
}

postgres_wait_ready() {   # postgres_wait_ready PID — pg_isready on TCP, bounded by PG_START_TIMEOUT
  local pid=$1 deadline=$((SECONDS + PG_START_TIMEOUT))
  while :; do
    pid_alive "$pid" || { err "postgres: postmaster $pid exited during startup"; show_tail "$PG_LOG"; return 1; }
    pg_isready_at "$PG_PORT" && return 0
    if ((SECONDS >= deadline)); then
      err "postgres: not accepting connections on $HOST:$PG_PORT within ${PG_START_TIMEOUT}s"
      show_tail "$PG_LOG"
      return 1
    fi
    sleep 0.25
  done
}

postgres_start() {
  local pid sock start=$SECONDS
  validate_pg_env
  pid=$(postgres_our_pid)
  if [[ -n $pid ]]; then
    postgres_running_port
    [[ $RUN_PGPORT == "$PG_PORT" ]] ||
      die "postgres: our cluster (pid $pid) is already running on port $RUN_PGPORT, not the requested $PG_PORT;" \
          "run 'ops/services.sh stop postgres' first"
    pg_find_bin || true
    postgres_wait_ready "$pid" || die "postgres: our postmaster (pid $pid) does not accept connections"
    pg_app_login_ok "$PG_PORT" || pg_provision "$(pg_socket_dir)" || die "postgres: could not create role/database $PG_USER/$PG_DATABASE"
    log "postgres: already running (pid $pid, $HOST:$PG_PORT)"
    log "postgres: DATABASE_URL=$(pg_database_url)"
    return 0
  fi
  if port_open "$PG_PORT"; then
    pg_find_bin || true
    if pg_isready_at "$PG_PORT"; then
      if pg_app_login_ok "$PG_PORT"; then
        log "postgres: NOTE: $HOST:$PG_PORT is already served by a PostgreSQL NOT started by this script" \
            "($(port_owner "$PG_PORT")); role $PG_USER can log in there — reusing it, not starting our own"
        log "postgres: DATABASE_URL=$(pg_database_url)"
        return 0
      fi
      die "postgres: port $PG_PORT is taken by a PostgreSQL NOT started by this script ($(port_owner "$PG_PORT"))," \
          "and role '$PG_USER' (password from PG_PASSWORD) cannot log in to database '$PG_DATABASE' there." \
          "Stop that server (Debian's own cluster: pg_ctlcluster <version> main stop) or use another port:" \
          "PG_PORT=5433 ops/services.sh start postgres (then DATABASE_URL=$(pg_database_url 5433))"
    fi
    die "postgres: port $PG_PORT is in use by something that is not PostgreSQL ($(port_owner "$PG_PORT")); set PG_PORT or free the port"
  fi

  mkdir -p "$RUN_DIR" "$LOG_DIR" "$PG_HOME"
  ensure_postgres
  if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 || die "postgres: the 'postgres' OS user does not exist (it comes with Debian's postgresql-common)"
    command -v runuser >/dev/null 2>&1 || die "postgres: runuser not found (util-linux)"
  fi
  # The server user writes the log and must be able to reach the data dir.
  touch "$PG_LOG"
  ((EUID == 0)) && chown postgres:postgres "$PG_LOG"
  if ((EUID == 0)) && ! runuser -u postgres -- test -x "$PG_HOME"; then
    die "postgres: the 'postgres' OS user cannot reach $PG_HOME (a parent directory is not world-executable)"
  fi
  pg_initdb_if_needed
  sock=$(pg_socket_dir)
  mkdir -p "$sock"
  ((EUID == 0)) && chown postgres:postgres "$sock"
  chmod 755 "$sock"
  pg_write_config "$sock"

  rm -f "$PG_PID_FILE"
  echo "$PG_PORT" >"$PG_PORT_FILE"
  printf '\n===== %s starting postgres (%s) =====\n' "$(date -Is)" "$PG_BIN" >>"$PG_LOG"
  log "postgres: starting on $HOST:$PG_PORT (timeout ${PG_START_TIMEOUT}s) ..."
  # pg_ctl -w waits until the postmaster reports "ready" in postmaster.pid.
  # shellcheck disable=SC2094  # pg_ctl's output and the server's log both only append to PG_LOG
  if ! pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" start \
        </dev/null >>"$PG_LOG" 2>&1 8>&- 9>&-; then
    err "postgres: pg_ctl start failed"
    show_tail "$PG_LOG"
    pid=$(postgres_our_pid)
    if [[ -n $pid ]]; then
      pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop </dev/null >>"$PG_LOG" 2>&1 8>&- 9>&- ||
        stop_pid postgres "$pid" || true
    fi
    rm -f "$PG_PID_FILE" "$PG_PORT_FILE"
    die "postgres: failed to start (log: $PG_LOG)"
  fi
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null | tr -dc '0-9')
  if [[ -z $pid ]] || ! is_our_postgres "$pid"; then
    die "postgres: pg_ctl reported success but no postmaster runs for $PG_DATA (see $PG_LOG)"
  fi
  echo "$pid" >"$PG_PID_FILE"
  if ! postgres_wait_ready "$pid" || ! pg_provision "$sock" || ! pg_app_login_ok "$PG_PORT"; then
    pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop </dev/null >>"$PG_LOG" 2>&1 8>&- 9>&- ||
      stop_pid postgres "$pid" || true
    rm -f "$PG_PID_FILE" "$PG_PORT_FILE"
    die "postgres: started but role $PG_USER could not log in over TCP (log: $PG_LOG)"
  fi
  log "postgres: ready (pid $pid, $HOST:$PG_PORT, socket $sock) in $((SECONDS - start))s"
  log "postgres: DATABASE_URL=$(pg_database_url)"
}

postgres_stop() {
  local pid
  pid=$(postgres_our_pid)
  if [[ -z $pid ]]; then
    if port_open "$PG_PORT"; then
      log "postgres: not running (ours); NOTE: port $PG_PORT is served by a process we did not start ($(port_owner "$PG_PORT")) — leaving it alone"
    else
      log "postgres: not running"
    fi
    return 0
  fi
  postgres_running_port
  pg_find_bin || true
  log "postgres: stopping pid $pid (pg_ctl stop -m fast: disconnects clients)"
  if [[ -z $PG_BIN ]] || ! pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop \
        </dev/null >>"$PG_LOG" 2>&1 8>&- 9>&-; then
    warn "postgres: pg_ctl stop failed, signalling pid $pid directly"
    kill -INT "$pid" 2>/dev/null || true   # SIGINT = fast shutdown (SIGTERM would wait for clients)
    stop_pid postgres "$pid" || return 1
  fi
  if pid_alive "$pid"; then
    stop_pid postgres "$pid" || return 1
  fi
  log "postgres: stopped"
  rm -f "$PG_PID_FILE" "$PG_PORT_FILE"
  wait_port_closed "$RUN_PGPORT" || warn "postgres: port $RUN_PGPORT still open after stop"
}

postgres_status() {
  local pid state
  pid=$(postgres_our_pid)
  pg_find_bin || true
  if [[ -n $pid ]]; then
    postgres_running_port
    state="not accepting connections"
    pg_isready_at "$RUN_PGPORT" && state="accepting connections"
    printf 'postgres: running  pid=%s  %s:%s  %s  DATABASE_URL=%s\n' "$pid" "$HOST" "$RUN_PGPORT" "$state" "$(pg_database_url "$RUN_PGPORT")"
  elif pg_isready_at "$PG_PORT"; then
    printf 'postgres: stopped (ours)  but %s:%s is served by a PostgreSQL NOT managed by this script %s\n' \
      "$HOST" "$PG_PORT" "$(port_owner "$PG_PORT")"
  else
    printf 'postgres: stopped  port=%s\n' "$PG_PORT"
  fi
}

# ----------------------------------------------------------------------------- cluster
#
# A three-node Kafka KRaft cluster for replication tests, independent of the single node:
# every node is a combined broker+controller (node.id 1..3) with a STATIC controller quorum
# (controller.quorum.voters; formatted without --standalone/--initial-controllers, i.e.
# kraft.version 0), all sharing one cluster id and the jars in .local/kafka/libs.
# Needs 2 of the 3 voters up to have a controller, so a node started alone waits for a peer.

cluster_node_dir()  { printf '%s' "$CLUSTER_HOME/node-$1"; }
cluster_props()     { printf '%s' "$CLUSTER_HOME/node-$1/server.properties"; }
cluster_pid_file()  { printf '%s' "$RUN_DIR/cluster-$1.pid"; }
cluster_stdout()    { printf '%s' "$LOG_DIR/cluster-$1.log"; }
cluster_server_log() { printf '%s' "$CLUSTER_HOME/node-$1/logs/server.log"; }

is_our_cluster_node() {   # is_our_cluster_node N PID
  pid_alive "$2" || return 1
  [[ $(cmdline_of "$2") == *"kafka.Kafka $(cluster_props "$1")"* ]]
}

# Prints node N's pid if our broker runs; cleans a stale pid file.
cluster_node_pid() {
  local n=$1 file pid
  file=$(cluster_pid_file "$n")
  pid=$(read_pid_file "$file")
  [[ -n $pid ]] || { rm -f "$file"; return 0; }
  if is_our_cluster_node "$n" "$pid"; then
    printf '%s' "$pid"
  else
    log "cluster-$n: removing stale pid file ($file, pid $pid is not running)" >&2
    rm -f "$file"
  fi
}

cluster_running_nodes() {   # sets RUNNING_NODES=(ids of our live nodes)
  local n
  RUNNING_NODES=()
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    [[ -n $(cluster_node_pid "$n") ]] && RUNNING_NODES+=("$n")
  done
  return 0
}

# Ports of the running cluster (all nodes must agree on the voters), else the env's.
cluster_load_ports() {
  local line
  validate_cluster_env
  cluster_running_nodes
  if ((${#RUNNING_NODES[@]} == 0)); then
    rm -f "$CLUSTER_PORTS_FILE"
    return 0
  fi
  [[ -s $CLUSTER_PORTS_FILE ]] || return 0
  line=$(cat "$CLUSTER_PORTS_FILE")
  if [[ $line != "${CL_PORTS[*]} / ${CL_CPORTS[*]}" ]]; then
    ENV_PORTS_DIFFER=1
    read -r -a CL_PORTS <<<"${line%% / *}"
    read -r -a CL_CPORTS <<<"${line##* / }"
  fi
}

cluster_bootstrap() {
  local p out=""
  for p in "${CL_PORTS[@]}"; do out+="${out:+,}$HOST:$p"; done
  printf '%s' "$out"
}

cluster_voters() {
  local i out=""
  for ((i = 0; i < CLUSTER_SIZE; i++)); do out+="${out:+,}$((i + 1))@$HOST:${CL_CPORTS[i]}"; done
  printf '%s' "$out"
}

# Broker ids the cluster lists (registered + unfenced), via a Metadata request; "" if unknown.
cluster_metadata_brokers() {
  local addrs=() p out
  command -v python3 >/dev/null 2>&1 || return 1
  for p in "$@"; do addrs+=("$HOST:$p"); done
  out=$(timeout 15 python3 "$KAFKA_DIR/brokers.py" "${addrs[@]}" 2>/dev/null) || return 1
  out=${out#brokers=}
  printf '%s' "${out%% *}"
}

cluster_write_config() {
  local n=$1 i=$(($1 - 1)) dir
  dir=$(cluster_node_dir "$n")
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$(cluster_props "$n")" <<EOC
# GENERATED by ops/services.sh on every start — do not edit (edit the script).
# Node $n of the local 3-node test cluster (ops/services.sh start cluster).
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(cluster_voters)
listeners=PLAINTEXT://$HOST:${CL_PORTS[i]},CONTROLLER://$HOST:${CL_CPORTS[i]}
advertised.listeners=PLAINTEXT://$HOST:${CL_PORTS[i]}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
# small footprint: 3 JVMs share 2 cores with the single node and the tests
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=24
log.segment.bytes=104857600
EOC
}

cluster_format_if_needed() {
  local n=$1 dir stamp cluster_id
  dir=$(cluster_node_dir "$n")
  stamp="voters=$(cluster_voters)"
  if [[ -f $dir/data/meta.properties ]]; then
    if [[ -f $dir/formatted-with && $(cat "$dir/formatted-with") != "$stamp" ]]; then
      warn "cluster-$n: $dir/data was formatted with $(cat "$dir/formatted-with") but now $stamp;" \
           "if the cluster does not come up, run: ops/services.sh stop cluster && rm -rf '$CLUSTER_HOME'"
    fi
    return 0
  fi
  kafka_java_cmd "-Xmx128m" "" "" "$dir/logs"
  if [[ -s $CLUSTER_ID_FILE ]]; then
    cluster_id=$(cat "$CLUSTER_ID_FILE")
  else
    cluster_id=$("${JAVA_CMD[@]}" kafka.tools.StorageTool random-uuid </dev/null 2>>"$LOG_DIR/cluster-storage.log" 8>&- 9>&- | tail -n 1) ||
      die "cluster: StorageTool random-uuid failed (see $LOG_DIR/cluster-storage.log)"
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "cluster: unexpected cluster id '$cluster_id'"
    echo "$cluster_id" >"$CLUSTER_ID_FILE"
  fi
  log "cluster-$n: formatting $dir/data (cluster id $cluster_id, static quorum $(cluster_voters))"
  # No --standalone / --initial-controllers: with controller.quorum.voters set this
  # formats a static quorum (kraft.version=0), the same on every node.
  if ! "${JAVA_CMD[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$(cluster_props "$n")" \
        </dev/null >>"$LOG_DIR/cluster-storage.log" 2>&1 8>&- 9>&-; then
    show_tail "$LOG_DIR/cluster-storage.log"
    die "cluster-$n: storage format failed (see $LOG_DIR/cluster-storage.log)"
  fi
  echo "$stamp" >"$dir/formatted-with"
}

cluster_started_in_log_since() {   # N OFFSET
  local f size offset=$2
  f=$(cluster_server_log "$1")
  [[ -f $f ]] || return 1
  size=$(stat -c %s "$f")
  if ((size < offset)); then offset=0; fi
  tail -c +"$((offset + 1))" "$f" | grep -q 'Kafka Server started'
}

# cluster_wait_ready DEADLINE NODE:OFFSET...   (OFFSET "-" = only check the protocol)
# Each node answers (and logged "started" since OFFSET), then the Metadata of the
# cluster lists every node we run (registered and unfenced with the active controller).
cluster_wait_ready() {
  local deadline=$1 spec n off pid pending=() still want have stuck
  shift
  pending=("$@")
  while ((${#pending[@]})); do
    still=()
    for spec in "${pending[@]}"; do
      n=${spec%%:*} off=${spec#*:}
      pid=$(read_pid_file "$(cluster_pid_file "$n")")
      if ! pid_alive "$pid"; then
        err "cluster-$n: broker process ${pid:-?} exited during startup"
        show_tail "$(cluster_stdout "$n")" "$(cluster_server_log "$n")"
        rm -f "$(cluster_pid_file "$n")"
        return 1
      fi
      if { [[ $off == - ]] || cluster_started_in_log_since "$n" "$off"; } && kafka_answers "${CL_PORTS[n - 1]}"; then
        log "cluster-$n: broker started (pid $pid, $HOST:${CL_PORTS[n - 1]})"
      else
        still+=("$spec")
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
      cluster_running_nodes
      for spec in "${pending[@]}"; do
        n=${spec%%:*}
        err "cluster-$n: did not start on $HOST:${CL_PORTS[n - 1]} within ${CLUSTER_START_TIMEOUT}s"
        show_tail "$(cluster_stdout "$n")" "$(cluster_server_log "$n")"
      done
      ((${#RUNNING_NODES[@]} * 2 > CLUSTER_SIZE)) ||
        err "cluster: only node(s) ${RUNNING_NODES[*]:-none} run; the static KRaft quorum needs $((CLUSTER_SIZE / 2 + 1)) of $CLUSTER_SIZE nodes — start the others too (ops/services.sh start cluster)"
      return 1
    fi
    sleep 0.5
  done

  cluster_running_nodes
  want=$(IFS=,; printf '%s' "${RUNNING_NODES[*]}")
  command -v python3 >/dev/null 2>&1 || {
    warn "cluster: python3 not found; relying on the brokers' logs only (not checking that all nodes registered)"
    return 0
  }
  stuck=0
  while :; do
    local ports=() p
    for p in "${RUNNING_NODES[@]}"; do ports+=("${CL_PORTS[p - 1]}"); done
    have=$(cluster_metadata_brokers "${ports[@]}" || true)
    [[ $have == "$want" ]] && { log "cluster: brokers registered: $have"; return 0; }
    if ((SECONDS >= deadline)); then
      err "cluster: brokers listed by the cluster: '${have:-none}', expected $want (after ${CLUSTER_START_TIMEOUT}s)"
      for p in "${RUNNING_NODES[@]}"; do show_tail "$(cluster_server_log "$p")"; done
      return 1
    fi
    ((stuck++ % 20 == 19)) && log "cluster: waiting for brokers $want to register (now: ${have:-none}) ..."
    sleep 0.5
  done
}

cluster_start() {   # cluster_start all|N
  local which=$1 nodes=() n pid launched=() specs=() ENV_PORTS_DIFFER=0 start=$SECONDS deadline i p dir
  cluster_load_ports
  if ((ENV_PORTS_DIFFER)); then
    die "cluster: nodes ${RUNNING_NODES[*]} already run with ports $(cat "$CLUSTER_PORTS_FILE")" \
        "but CLUSTER_PORTS / CLUSTER_CONTROLLER_PORTS now ask for ${CLUSTER_PORTS} / ${CLUSTER_CONTROLLER_PORTS};" \
        "run 'ops/services.sh stop cluster' first"
  fi
  if [[ $which == all ]]; then
    for ((n = 1; n <= CLUSTER_SIZE; n++)); do nodes+=("$n"); done
  else
    nodes=("$which")
  fi

  # Pre-flight: what already runs, and are the ports of the others free?
  local to_launch=()
  for n in "${nodes[@]}"; do
    i=$((n - 1))
    pid=$(cluster_node_pid "$n")
    if [[ -n $pid ]]; then
      specs+=("$n:-")
      continue
    fi
    for p in "${CL_PORTS[i]}" "${CL_CPORTS[i]}"; do
      if port_open "$p"; then
        die "cluster-$n: port $p is already in use by a process we did not start ($(port_owner "$p"));" \
            "free it or set CLUSTER_PORTS / CLUSTER_CONTROLLER_PORTS"
      fi
    done
    to_launch+=("$n")
  done

  if ((${#to_launch[@]} == 0)); then
    # Everything requested already runs: a quick check, then a no-op.
    if cluster_wait_ready "$((SECONDS + CLUSTER_START_TIMEOUT))" "${specs[@]}" >/dev/null; then
      log "cluster: already running (nodes ${nodes[*]}; bootstrap $(cluster_bootstrap))"
      return 0
    fi
    die "cluster: nodes ${nodes[*]} run but the cluster is not healthy (see $CLUSTER_HOME/node-*/logs/server.log)"
  fi

  cluster_running_nodes
  # CLUSTER_FRESH=1: a throwaway cluster (tests) starts from empty storage, so neither old
  # topics nor an unclean last shutdown slow its start.
  if [[ $which == all && ${CLUSTER_FRESH:-0} == 1 && ${#RUNNING_NODES[@]} -eq 0 ]]; then
    log "cluster: CLUSTER_FRESH=1, starting from empty storage"
    rm -rf "$CLUSTER_HOME"/node-* "$CLUSTER_ID_FILE"
  fi
  if (((${#RUNNING_NODES[@]} + ${#to_launch[@]}) * 2 <= CLUSTER_SIZE)); then
    die "cluster: cannot start node(s) ${to_launch[*]} alone: the static KRaft quorum needs $((CLUSTER_SIZE / 2 + 1))" \
        "of $CLUSTER_SIZE nodes running (now: ${RUNNING_NODES[*]:-none}); use 'ops/services.sh start cluster'"
  fi
  ensure_java
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$CLUSTER_HOME" "$KAFKA_HOME"
  ensure_kafka_libs
  for n in "${to_launch[@]}"; do
    cluster_write_config "$n"
    cluster_format_if_needed "$n"
  done
  echo "${CL_PORTS[*]} / ${CL_CPORTS[*]}" >"$CLUSTER_PORTS_FILE"

  for n in "${to_launch[@]}"; do
    dir=$(cluster_node_dir "$n")
    local offset=0
    [[ -f $(cluster_server_log "$n") ]] && offset=$(stat -c %s "$(cluster_server_log "$n")")
    kafka_java_cmd "$CLUSTER_HEAP_OPTS" "$CLUSTER_JVM_PERFORMANCE_OPTS" "$CLUSTER_KAFKA_OPTS" "$dir/logs"
    printf '\n===== %s starting cluster node %s (kafka %s) =====\n' "$(date -Is)" "$n" "$(kafka_version)" >>"$(cluster_stdout "$n")"
    # Same daemonising as the single node (see kafka_start): $! is the JVM's pid.
    setsid "${JAVA_CMD[@]}" kafka.Kafka "$(cluster_props "$n")" </dev/null >>"$(cluster_stdout "$n")" 2>&1 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$(cluster_pid_file "$n")"
    launched+=("$n:$pid")
    specs+=("$n:$offset")
    log "cluster-$n: started pid $pid ($HOST:${CL_PORTS[n - 1]}, controller ${CL_CPORTS[n - 1]})"
  done
  log "cluster: waiting for node(s) ${nodes[*]} and broker registration (timeout ${CLUSTER_START_TIMEOUT}s) ..."
  deadline=$((SECONDS + CLUSTER_START_TIMEOUT))
  if ! cluster_wait_ready "$deadline" "${specs[@]}"; then
    # Undo only what this invocation started.
    for p in "${launched[@]}"; do
      n=${p%%:*} pid=${p#*:}
      if is_our_cluster_node "$n" "$pid"; then stop_pid "cluster-$n" "$pid" || true; fi
      rm -f "$(cluster_pid_file "$n")"
    done
    cluster_running_nodes
    ((${#RUNNING_NODES[@]})) || rm -f "$CLUSTER_PORTS_FILE"
    die "cluster: failed to start node(s) ${to_launch[*]} (logs: $LOG_DIR/cluster-N.log, $CLUSTER_HOME/node-N/logs/server.log)"
  fi
  log "cluster: ready in $((SECONDS - start))s — nodes ${RUNNING_NODES[*]} up; bootstrap servers $(cluster_bootstrap)"
}

cluster_stop() {   # cluster_stop all|N
  local which=$1 nodes=() n pid pids=() rc=0 ENV_PORTS_DIFFER=0 i
  cluster_load_ports
  if [[ $which == all ]]; then
    for ((n = CLUSTER_SIZE; n >= 1; n--)); do nodes+=("$n"); done
  else
    nodes=("$which")
  fi
  for n in "${nodes[@]}"; do
    pid=$(cluster_node_pid "$n")
    if [[ -z $pid ]]; then
      if port_open "${CL_PORTS[n - 1]}"; then
        log "cluster-$n: not running (ours); NOTE: port ${CL_PORTS[n - 1]} is served by a process we did not start ($(port_owner "${CL_PORTS[n - 1]}")) — leaving it alone"
      else
        log "cluster-$n: not running"
      fi
      continue
    fi
    pids+=("$n:$pid")
  done
  # Stop the nodes in parallel so that they shut down together: one by one, the last
  # node has no quorum left for its controlled shutdown and stalls on it.
  local waits=()
  for i in "${pids[@]}"; do
    n=${i%%:*} pid=${i#*:}
    (
      stop_pid "cluster-$n" "$pid" "$(cluster_stdout "$n")" || exit 1
      rm -f "$(cluster_pid_file "$n")"
      wait_port_closed "${CL_PORTS[n - 1]}" || warn "cluster-$n: port ${CL_PORTS[n - 1]} still open after stop"
      wait_port_closed "${CL_CPORTS[n - 1]}" || warn "cluster-$n: port ${CL_CPORTS[n - 1]} still open after stop"
    ) &
    waits+=("$!")
  done
  for pid in "${waits[@]}"; do wait "$pid" || rc=1; done
  cluster_running_nodes
  ((${#RUNNING_NODES[@]})) || rm -f "$CLUSTER_PORTS_FILE"
  return "$rc"
}

cluster_status() {   # cluster_status all|N
  local which=$1 n pid state ENV_PORTS_DIFFER=0 ports=() have
  cluster_load_ports
  for ((n = 1; n <= CLUSTER_SIZE; n++)); do
    [[ $which == all || $which == "$n" ]] || continue
    pid=$(cluster_node_pid "$n")
    if [[ -n $pid ]]; then
      state="not answering yet"
      kafka_answers "${CL_PORTS[n - 1]}" && state="answering"
      printf 'cluster-%s: running  pid=%s  %s:%s (controller %s)  %s\n' \
        "$n" "$pid" "$HOST" "${CL_PORTS[n - 1]}" "${CL_CPORTS[n - 1]}" "$state"
      ports+=("${CL_PORTS[n - 1]}")
    elif kafka_answers "${CL_PORTS[n - 1]}"; then
      printf 'cluster-%s: stopped (ours)  but %s:%s is answered by a broker NOT managed by this script %s\n' \
        "$n" "$HOST" "${CL_PORTS[n - 1]}" "$(port_owner "${CL_PORTS[n - 1]}")"
    else
      printf 'cluster-%s: stopped  port=%s\n' "$n" "${CL_PORTS[n - 1]}"
    fi
  done
  if [[ $which == all ]]; then
    cluster_running_nodes
    if ((${#RUNNING_NODES[@]})); then
      local p
      ports=()
      for p in "${RUNNING_NODES[@]}"; do ports+=("${CL_PORTS[p - 1]}"); done
      have=$(cluster_metadata_brokers "${ports[@]}" || true)
      printf 'cluster: %s/%s nodes running; brokers registered+unfenced: %s; bootstrap %s\n' \
        "${#RUNNING_NODES[@]}" "$CLUSTER_SIZE" "${have:-unknown}" "$(cluster_bootstrap)"
    else
      printf 'cluster: stopped  ports=%s\n' "${CL_PORTS[*]}"
    fi
  fi
}

# ----------------------------------------------------------------------------- main

# Run one service action in a subshell with errexit really active, so one
# failing service does not stop the other from being handled; failures set
# the caller's rc=1.  Must be called as a plain statement: inside `x || y`
# bash silently ignores errexit, even in subshells.
run_step() {
  local r
  set +e
  (set -e; "$@")
  r=$?
  set -e
  ((r == 0)) || rc=1
}

# svc ACTION SERVICE — e.g. `svc stop cluster-2` -> cluster_stop 2
svc() {
  case $2 in
    cluster) "cluster_$1" all ;;
    cluster-*) "cluster_$1" "${2#cluster-}" ;;
    *) "${2}_$1" ;;
  esac
}

main() {
  local cmd=${1:-} target=${2:-all} svcs rc=0 s lock
  case $cmd in
    start | stop | restart | status) ;;
    -h | --help | help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
    *) err "unknown command '$cmd'"; usage >&2; exit 2 ;;
  esac
  (($# <= 2)) || { usage >&2; exit 2; }
  case $target in
    all) svcs=(redis kafka) lock=services ;;
    kafka | redis) svcs=("$target") lock=services ;;
    postgres) svcs=(postgres) lock=postgres ;;
    cluster) svcs=(cluster) lock=cluster ;;
    cluster-[1-9])
      ((${target#cluster-} <= CLUSTER_SIZE)) || { err "unknown service '$target' (the cluster has nodes 1..$CLUSTER_SIZE)"; exit 2; }
      svcs=("$target") lock=cluster ;;
    *) err "unknown service '$target' (expected kafka, redis, postgres, cluster or cluster-1..$CLUSTER_SIZE)"; exit 2 ;;
  esac
  validate_env
  [[ $lock != cluster ]] || validate_cluster_env
  [[ $lock != postgres ]] || validate_pg_env

  case $cmd in
    status)
      for s in "${svcs[@]}"; do svc status "$s"; done
      return 0 ;;
    start)
      take_lock "$lock"
      for s in "${svcs[@]}"; do run_step svc start "$s"; done ;;
    stop)
      take_lock "$lock"
      for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do run_step svc stop "${svcs[i]}"; done ;;
    restart)
      take_lock "$lock"
      for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do run_step svc stop "${svcs[i]}"; done
      ((rc == 0)) || die "restart: stop failed, not starting again"
      for s in "${svcs[@]}"; do run_step svc start "$s"; done ;;
  esac
  return "$rc"
}

main "$@"
