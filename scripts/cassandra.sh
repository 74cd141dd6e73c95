#!/usr/bin/env bash
# Starts (or stops) one Apache Cassandra 5.0 node on loopback, the CQL peer of the storage
# crate's ScyllaDB backend tests (ScyllaDB itself is in no registry these machines reach;
# Cassandra speaks the same CQL protocol).
#
#   eval "$(scripts/cassandra.sh start)"   # prints `export ONECLASS_TEST_CQL=127.0.0.1:PORT`
#   scripts/cassandra.sh stop              # SIGTERM by PID, then wipes the node's storage
#
# What start does:
# - Java: uses OpenJDK 17 (Cassandra 5.0 runs on 11 or 17; newer JDKs refuse its security
#   manager). `java` on PATH is used when it is 17, else an installed JDK 17 under /usr/lib/jvm,
#   else `openjdk-17-jre-headless` is installed with apt.
# - Jars: `org.apache.cassandra:cassandra-all` and its runtime dependencies are copied by Maven
#   (maven-dependency-plugin copy-dependencies, from a throwaway pom) into a cache directory
#   that later runs reuse (~/.cache/oneclass-cassandra/<version>/lib; ~/.m2 is Maven's cache).
# - Config: a minimal cassandra.yaml and a logback.xml in the state dir; the node's data lives
#   in the state dir's `storage/` (wiped by stop and before each start).
# - Ports: the native (CQL) port is 9042 unless taken, else the next free one; the internode
#   port likewise from 7000. JMX stays off (Cassandra only logs that).
# - Readiness: waits for the CQL port, then for a real CQL query
#   (`SELECT release_version FROM system.local`) to answer; on failure prints the log's tail.
#
# Everything but the export line goes to stderr, so `eval "$(…)"` sees only the export.
# Environment: ONECLASS_CASSANDRA_VERSION (default below), ONECLASS_CASSANDRA_DIR (state dir),
# ONECLASS_CASSANDRA_CACHE (jar cache root), ONECLASS_CASSANDRA_PORT (first port to try),
# ONECLASS_CASSANDRA_START_TIMEOUT (seconds, default 180).
set -euo pipefail

VERSION="${ONECLASS_CASSANDRA_VERSION:-5.0.9}"
STATE_DIR="${ONECLASS_CASSANDRA_DIR:-/tmp/oneclass-cassandra}"
CACHE_ROOT="${ONECLASS_CASSANDRA_CACHE:-$HOME/.cache/oneclass-cassandra}"
LIB_DIR="$CACHE_ROOT/$VERSION/lib"
FIRST_CQL_PORT="${ONECLASS_CASSANDRA_PORT:-9042}"
FIRST_STORAGE_PORT=7000
START_TIMEOUT="${ONECLASS_CASSANDRA_START_TIMEOUT:-180}"
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
HEAP=1g

log() { echo "cassandra.sh: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port at or above $1 that nothing listens on, skipping $2 (already chosen).
free_port() {
  local port=$1 skip=${2:-0}
  while port_open "$port" || [[ $port == "$skip" ]]; do
    port=$((port + 1))
    if ((port > $1 + 200)); then
      log "no free port in $1..$port"
      return 1
    fi
  done
  echo "$port"
}

is_java17() { "$1" -version 2>&1 | head -n 1 | grep -q 'version "17[."]'; }

apt_install() {
  log "installing $* with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Sets JAVA to an OpenJDK 17 binary, installing one if none is there.
find_java() {
  local candidate
  if command -v java >/dev/null && is_java17 java; then
    JAVA=$(command -v java)
    return 0
  fi
  for candidate in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
    if [[ -x $candidate ]] && is_java17 "$candidate"; then
      JAVA=$candidate
      return 0
    fi
  done
  apt_install openjdk-17-jre-headless
  for candidate in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
    if [[ -x $candidate ]] && is_java17 "$candidate"; then
      JAVA=$candidate
      return 0
    fi
  done
  log "no OpenJDK 17 found after installing openjdk-17-jre-headless"
  return 1
}

# Copies cassandra-all and its runtime dependencies into $LIB_DIR once per version.
fetch_jars() {
  if [[ -f $LIB_DIR/.complete ]]; then
    return 0
  fi
  command -v mvn >/dev/null || apt_install maven
  local work
  work=$(mktemp -d)
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>oneclass.local</groupId>
  <artifactId>cassandra-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  log "fetching cassandra-all $VERSION and its dependencies with Maven into $LIB_DIR"
  rm -rf "$LIB_DIR"
  mkdir -p "$LIB_DIR"
  # Cassandra's parent pom makes Maven print `[ERROR] ... systemPath` lines; they are harmless
  # and the goal still succeeds, so only the exit status counts.
  if ! mvn -B -q -f "$work/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DoutputDirectory="$LIB_DIR" -DincludeScope=runtime >"$work/mvn.log" 2>&1; then
    log "Maven failed; its output follows"
    tail -n 60 "$work/mvn.log" >&2
    rm -rf "$work"
    return 1
  fi
  rm -rf "$work"
  if ! compgen -G "$LIB_DIR/cassandra-all-*.jar" >/dev/null \
    || ! compgen -G "$LIB_DIR/jamm-*.jar" >/dev/null; then
    log "Maven succeeded but cassandra-all or jamm is missing from $LIB_DIR"
    return 1
  fi
  touch "$LIB_DIR/.complete"
  log "cached $(find "$LIB_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1))"
}

write_config() {
  local cql_port=$1 storage_port=$2
  mkdir -p "$STATE_DIR/conf" "$STATE_DIR/storage"
  # Unknown keys are rejected by Cassandra, and 5.0's names carry units (`...: 10000ms`).
  cat >"$STATE_DIR/conf/cassandra.yaml" <<YAML
cluster_name: oneclass-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$storage_port"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $storage_port
native_transport_port: $cql_port
start_native_transport: true
auto_snapshot: false
concurrent_compactors: 1
YAML
  cat >"$STATE_DIR/conf/logback.xml" <<XML
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$STATE_DIR/system.log</file>
    <append>false</append>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE" />
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
XML
}

# Java 17 module flags from Cassandra's conf/jvm17-server.options: without them Cassandra dies
# at start with an InaccessibleObjectException naming the missing one.
JVM17_FLAGS=(
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
)

launch() {
  local jamm
  jamm=$(compgen -G "$LIB_DIR/jamm-*.jar" | head -n 1)
  # setsid + redirected stdio: the node outlives this script and never holds the pipe of the
  # caller's `$(...)` open.
  setsid "$JAVA" \
    -Xms$HEAP -Xmx$HEAP -XX:+ExitOnOutOfMemoryError -XX:+UseG1GC -ea \
    -Djava.net.preferIPv4Stack=true \
    "${JVM17_FLAGS[@]}" \
    -Dio.netty.tryReflectionSetAccessible=true \
    "-javaagent:$jamm" \
    "-Dcassandra.config=file://$STATE_DIR/conf/cassandra.yaml" \
    "-Dcassandra.storagedir=$STATE_DIR/storage" \
    "-Dcassandra.logdir=$STATE_DIR" \
    -Dcassandra-foreground=yes \
    "-Dlogback.configurationFile=file://$STATE_DIR/conf/logback.xml" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.ring_delay_ms=1000 \
    -Dcassandra.load_ring_state=false \
    -cp "$LIB_DIR/*" org.apache.cassandra.service.CassandraDaemon \
    </dev/null >"$STATE_DIR/cassandra.out" 2>&1 &
  echo "$!" >"$STATE_DIR/pid"
}

# One CQL exchange over the native protocol (v4): STARTUP, then a QUERY for the release
# version. Prints the version and exits 0 only when the node answered the query with rows.
cql_probe() {
  local python=python3
  [[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
  "$python" - "$1" <<'PY'
import socket, struct, sys

port = int(sys.argv[1])

def frame(stream, opcode, body):
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body

def read_frame(sock):
    head = b""
    while len(head) < 9:
        chunk = sock.recv(9 - len(head))
        if not chunk:
            raise SystemExit("connection closed")
        head += chunk
    _, _, _, opcode, length = struct.unpack(">BBhBi", head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise SystemExit("connection closed")
        body += chunk
    return opcode, body

def string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b

with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
    sock.sendall(frame(1, 0x01, struct.pack(">H", 1) + string("CQL_VERSION") + string("3.0.0")))
    opcode, body = read_frame(sock)
    if opcode != 0x02:  # READY
        raise SystemExit(f"STARTUP answered with opcode {opcode:#x}")
    query = "SELECT release_version FROM system.local"
    q = query.encode()
    # <long string query><short consistency=ONE><byte flags=0>
    sock.sendall(frame(2, 0x07, struct.pack(">i", len(q)) + q + struct.pack(">HB", 1, 0)))
    opcode, body = read_frame(sock)
    if opcode != 0x08:  # RESULT
        raise SystemExit(f"QUERY answered with opcode {opcode:#x}: {body[6:200]!r}")
    kind, flags, columns = struct.unpack(">iii", body[:12])
    if kind != 2:  # Rows
        raise SystemExit(f"QUERY returned result kind {kind}")
    pos = 12
    if flags & 0x0002:  # has_more_pages: paging state
        n = struct.unpack(">i", body[pos:pos + 4])[0]
        pos += 4 + max(n, 0)
    if not flags & 0x0004:  # no_metadata unset: metadata follows
        if flags & 0x0001:  # global_tables_spec: keyspace and table once
            for _ in range(2):
                n = struct.unpack(">H", body[pos:pos + 2])[0]
                pos += 2 + n
        for _ in range(columns):
            if not flags & 0x0001:
                for _ in range(2):
                    n = struct.unpack(">H", body[pos:pos + 2])[0]
                    pos += 2 + n
            n = struct.unpack(">H", body[pos:pos + 2])[0]
            pos += 2 + n  # column name
            pos += 2  # option id (varchar, no value)
    rows = struct.unpack(">i", body[pos:pos + 4])[0]
    pos += 4
    if rows < 1:
        raise SystemExit("system.local returned no row")
    n = struct.unpack(">i", body[pos:pos + 4])[0]
    print(body[pos + 4:pos + 4 + n].decode())
PY
}

alive() { [[ -f $STATE_DIR/pid ]] && kill -0 "$(cat "$STATE_DIR/pid")" 2>/dev/null; }

fail_with_log() {
  log "$1"
  log "last lines of $STATE_DIR/system.log and cassandra.out:"
  tail -n 40 "$STATE_DIR/system.log" >&2 2>/dev/null || true
  tail -n 20 "$STATE_DIR/cassandra.out" >&2 2>/dev/null || true
  stop
  exit 1
}

start() {
  find_java
  fetch_jars
  mkdir -p "$STATE_DIR"
  if [[ -f $STATE_DIR/pid ]]; then
    log "found $STATE_DIR/pid from an earlier start; stopping that node first"
    stop
  fi
  rm -rf "$STATE_DIR/storage"
  local cql_port storage_port started version=""
  cql_port=$(free_port "$FIRST_CQL_PORT")
  storage_port=$(free_port "$FIRST_STORAGE_PORT" "$cql_port")
  write_config "$cql_port" "$storage_port"
  echo "$cql_port" >"$STATE_DIR/port"
  started=$SECONDS
  log "starting Cassandra $VERSION ($JAVA) on 127.0.0.1:$cql_port, state in $STATE_DIR"
  launch
  until port_open "$cql_port"; do
    alive || fail_with_log "the node exited before opening its CQL port"
    ((SECONDS - started < START_TIMEOUT)) || fail_with_log "no CQL port after ${START_TIMEOUT}s"
    sleep 0.5
  done
  until version=$(cql_probe "$cql_port" 2>"$STATE_DIR/probe.err"); do
    alive || fail_with_log "the node exited before answering CQL"
    if ((SECONDS - started >= START_TIMEOUT)); then
      cat "$STATE_DIR/probe.err" >&2
      fail_with_log "CQL did not answer within ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done
  log "ready after $((SECONDS - started))s: Cassandra $version answers CQL on 127.0.0.1:$cql_port"
  echo "export ONECLASS_TEST_CQL=127.0.0.1:$cql_port"
}

stop() {
  if [[ -f $STATE_DIR/pid ]]; then
    local pid
    pid=$(cat "$STATE_DIR/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
      done
      if kill -0 "$pid" 2>/dev/null; then
        log "node $pid ignored SIGTERM for 30s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$STATE_DIR/pid" "$STATE_DIR/port"
  fi
  rm -rf "$STATE_DIR/storage"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
