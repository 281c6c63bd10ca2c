#!/usr/bin/env bash
# ops/services.sh — run real Apache Kafka (KRaft, single node) and Redis natively
# (no Docker) for local development and tests of Zzalu Realtime.
#
# Usage:
#   ops/services.sh start   [kafka|redis]    start all (default) or one service
#   ops/services.sh stop    [kafka|redis]    stop all (default) or one service
#   ops/services.sh restart [kafka|redis]    stop + start (keeps Kafka's data dir/topics)
#   ops/services.sh status  [kafka|redis]    print running/stopped, pid, port (always exit 0)
#
# All state lives in <repo>/.local/ (git-ignored):
#   .local/kafka/libs        broker jars (resolved by Maven from ops/kafka/pom.xml; ~/.m2 caches)
#   .local/kafka/data        KRaft log dirs (formatted once; survives restarts)
#   .local/kafka/logs        broker log4j2 logs (server.log)
#   .local/kafka/server.properties   generated on every start
#   .local/redis/            Redis working dir (no persistence)
#   .local/run/*.pid         pids of the processes we started
#   .local/log/*.log         stdout/stderr of our processes, maven, storage format, redis log
#
# Environment overrides:
#   KAFKA_PORT (9092)  KAFKA_CONTROLLER_PORT (9093)  KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m")
#   KAFKA_JVM_PERFORMANCE_OPTS  KAFKA_OPTS (extra JVM args)  KAFKA_START_TIMEOUT (60 s)
#   REDIS_PORT (6379)  REDIS_START_TIMEOUT (15 s)  STOP_TIMEOUT (20 s)  MVN_TIMEOUT (900 s)
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

# ----------------------------------------------------------------------------- helpers

log()  { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
err()  { printf '[services] ERROR: %s\n' "$*" >&2; }
die()  { err "$@"; exit 1; }

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

validate_env() {
  local v
  for v in KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT KAFKA_START_TIMEOUT REDIS_START_TIMEOUT STOP_TIMEOUT MVN_TIMEOUT; do
    is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
  done
  [[ $KAFKA_PORT != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
}

# TCP connect succeeds?
port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# Who listens on a port (informational only, never used to kill anything).
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -1 || true
}

# A real Kafka protocol round trip: send ApiVersions (v0) and expect our
# correlation id (0x2a) back.  Works without any client tooling installed.
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
stop_pid() {
  local name=$1 pid=$2 i
  log "$name: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    pid_alive "$pid" || { log "$name: stopped"; return 0; }
    sleep 0.25
  done
  warn "$name: pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
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

take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/services.lock"
  flock -w 180 9 || die "another ops/services.sh invocation holds $RUN_DIR/services.lock"
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
  ensure_mvn
  log "kafka: resolving org.apache.kafka:kafka_2.13:$version with Maven (cached in ~/.m2) ..."
  start=$SECONDS
  tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp" "$LOG_DIR"
  if ! timeout "$MVN_TIMEOUT" mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" \
        -Dkafka.version="$version" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        </dev/null >"$LOG_DIR/maven.log" 2>&1 9>&-; then
    rm -rf "$tmp"
    show_tail "$LOG_DIR/maven.log"
    die "Maven could not resolve the Kafka jars (see $LOG_DIR/maven.log; is Maven Central reachable?)"
  fi
  [[ -f $tmp/kafka_2.13-$version.jar ]] || { rm -rf "$tmp"; die "Maven finished but kafka_2.13-$version.jar is missing"; }
  echo "$version" >"$tmp/.kafka-version"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log "kafka: $(ls "$KAFKA_LIBS"/*.jar | wc -l) jars in $KAFKA_LIBS ($((SECONDS - start))s)"
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

kafka_java_cmd() {
  local heap perf extra
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  read -r -a perf <<<"$KAFKA_JVM_PERFORMANCE_OPTS"
  read -r -a extra <<<"$KAFKA_OPTS"
  JAVA_CMD=(java "${heap[@]}" "${perf[@]}"
    "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=$KAFKA_LOGS"
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

main() {
  local cmd=${1:-} target=${2:-all} svcs rc=0 s
  case $cmd in
    start | stop | restart | status) ;;
    -h | --help | help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
    *) err "unknown command '$cmd'"; usage >&2; exit 2 ;;
  esac
  (($# <= 2)) || { usage >&2; exit 2; }
  case $target in
    all) svcs=(redis kafka) ;;
    kafka | redis) svcs=("$target") ;;
    *) err "unknown service '$target' (expected kafka or redis)"; exit 2 ;;
  esac
  validate_env

  case $cmd in
    status)
      for s in "${svcs[@]}"; do "${s}_status"; done
      return 0 ;;
    start)
      take_lock
      for s in "${svcs[@]}"; do run_step "${s}_start"; done ;;
    stop)
      take_lock
      for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do run_step "${svcs[i]}_stop"; done ;;
    restart)
      take_lock
      for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do run_step "${svcs[i]}_stop"; done
      ((rc == 0)) || die "restart: stop failed, not starting again"
      for s in "${svcs[@]}"; do run_step "${s}_start"; done ;;
  esac
  return "$rc"
}

main "$@"
