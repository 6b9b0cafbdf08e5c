#!/usr/bin/env bash
# A local Apache Kafka cluster (KRaft, every node broker + controller) on
# 127.0.0.1, for trying `switchboard run` against a real broker.
#
#   scripts/kafka-local.sh [1|3] [--detach] [--no-topics]
#   scripts/kafka-local.sh stop
#
# In the foreground Ctrl-C stops it; --detach leaves it running in the
# background (pid file) until `stop`. Unless --no-topics, it creates the
# SPEC's topics as deploy/compose.yaml does (same names, partitions, configs).
#
# Client listeners (PLAINTEXT) on ports KAFKA_LOCAL_PORT.. (default 9092,
# 9093, 9094); controllers on those + 100. Three nodes replicate 3 ways with
# min.insync.replicas=2. Data lives in KAFKA_LOCAL_DIR (default
# .cache/kafka-local) and starts empty each time. The jars come from Maven
# Central on first use (scripts/kafka/fetch.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
base_port="${KAFKA_LOCAL_PORT:-9092}"
root="${KAFKA_LOCAL_DIR:-$repo/.cache/kafka-local}"
pidfile="$root/pids"
mapfile -t java_opts < <(grep -v '^#' "$here/kafka/jvm.options" | grep .)

stop_pids() {
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

if [ "${1:-}" = stop ]; then
  [ -f "$pidfile" ] || { echo "no detached cluster ($pidfile missing)"; exit 0; }
  # shellcheck disable=SC2046
  stop_pids $(cat "$pidfile")
  rm -f "$pidfile"
  echo "stopped"
  exit 0
fi

usage() { echo "usage: $0 [1|3] [--detach] [--no-topics] | stop" >&2; exit 2; }
nodes=1; detach=0; topics=1
for arg in "$@"; do
  case "$arg" in
    1|3) nodes="$arg" ;;
    --detach) detach=1 ;;
    --no-topics) topics=0 ;;
    *) usage ;;
  esac
done
if [ -f "$pidfile" ]; then
  echo "a detached cluster may be running: $0 stop" >&2
  exit 1
fi

libs="$("$here/kafka/fetch.sh")"
command -v java >/dev/null || { echo "java (JDK 17+) is not installed" >&2; exit 1; }

# Kafka ids are 16 random bytes in URL-safe base64 without padding.
uuid() {
  local u
  while :; do
    u="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [ "${u:0:1}" != - ] && { echo "$u"; return; }
  done
}

rf=1; isr=1
[ "$nodes" = 3 ] && { rf=3; isr=2; }
bootstrap=""; quorum=""; voters=""
for ((i = 0; i < nodes; i++)); do
  bootstrap+="${bootstrap:+,}127.0.0.1:$((base_port + i))"
  quorum+="${quorum:+,}127.0.0.1:$((base_port + 100 + i))"
done

rm -rf "$root"
mkdir -p "$root"
cluster_id="$(uuid)"
dir_ids=()
for ((i = 0; i < nodes; i++)); do
  dir_ids[i]="$(uuid)"
  voters+="${voters:+,}$i@127.0.0.1:$((base_port + 100 + i)):${dir_ids[i]}"
done

pids=()
for ((i = 0; i < nodes; i++)); do
  d="$root/node-$i"
  mkdir -p "$d/data" "$d/logs"
  {
    echo "node.id=$i"
    echo "listeners=PLAINTEXT://127.0.0.1:$((base_port + i)),CONTROLLER://127.0.0.1:$((base_port + 100 + i))"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$((base_port + i))"
    echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    echo "controller.quorum.bootstrap.servers=$quorum"
    echo "log.dirs=$d/data"
    echo "default.replication.factor=$rf"
    echo "min.insync.replicas=$isr"
    echo "offsets.topic.replication.factor=$rf"
    echo "transaction.state.log.replication.factor=$rf"
    echo "transaction.state.log.min.isr=$isr"
    echo "share.coordinator.state.topic.replication.factor=$rf"
    echo "share.coordinator.state.topic.min.isr=$isr"
    cat "$here/kafka/broker.properties"
  } >"$d/server.properties"
  if [ "$nodes" = 1 ]; then quorum_flag=(--standalone); else quorum_flag=(--initial-controllers "$voters"); fi
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$here/kafka/log4j2.xml" -Dkafka.logs.dir="$d/logs" \
    -cp "$libs/*" kafka.tools.StorageTool format --config "$d/server.properties" \
    --cluster-id "$cluster_id" "${quorum_flag[@]}" >"$d/logs/format.log" 2>&1 \
    || { cat "$d/logs/format.log" >&2; exit 1; }
done

for ((i = 0; i < nodes; i++)); do
  d="$root/node-$i"
  java "${java_opts[@]}" -Dlog4j2.configurationFile="$here/kafka/log4j2.xml" -Dkafka.logs.dir="$d/logs" \
    -cp "$libs/*" kafka.Kafka "$d/server.properties" >"$d/logs/stdout.log" 2>&1 </dev/null &
  pids+=("$!")
done

# Ready when every node answers on its client port.
ready=0
for _ in $(seq 600); do
  ready=1
  for ((i = 0; i < nodes; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$((base_port + i))") 2>/dev/null || ready=0
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { ready=-1; break; }; done
  [ "$ready" != 0 ] && break
  sleep 0.2
done
if [ "$ready" != 1 ]; then
  echo "the cluster did not start; last lines of each node's log:" >&2
  for ((i = 0; i < nodes; i++)); do tail -n 20 "$root/node-$i/logs/server.log" >&2 || true; done
  stop_pids "${pids[@]}"
  exit 1
fi

# The SPEC's topics, as deploy/compose.yaml's kafka-init creates them.
create_topic() {
  java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
    -Dlog4j2.configurationFile="$here/kafka/log4j2.xml" -Dkafka.logs.dir="$root" \
    -cp "$libs/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
    --create --if-not-exists --replication-factor "$rf" --topic "$@" >/dev/null
}
if [ "$topics" = 1 ]; then
  compact=(--config cleanup.policy=compact --config min.compaction.lag.ms=60000)
  jobs=()
  create_topic mentions --partitions 12 & jobs+=("$!")
  create_topic crm-contacts --partitions 12 & jobs+=("$!")
  create_topic crm-identity-updates --partitions 3 "${compact[@]}" & jobs+=("$!")
  create_topic work-items --partitions 12 & jobs+=("$!")
  create_topic incidents --partitions 3 & jobs+=("$!")
  create_topic mentions-dlq --partitions 3 --config retention.ms=1209600000 & jobs+=("$!")
  create_topic switchboard-repartition --partitions 12 --config retention.ms=86400000 & jobs+=("$!")
  create_topic switchboard-correlate-changelog --partitions 12 "${compact[@]}" & jobs+=("$!")
  for job in "${jobs[@]}"; do
    wait "$job" || { echo "creating a topic failed; stopping" >&2; stop_pids "${pids[@]}"; exit 1; }
  done
  echo "topics: mentions crm-contacts crm-identity-updates work-items incidents mentions-dlq switchboard-repartition switchboard-correlate-changelog"
fi

echo "Apache Kafka $(basename "$(dirname "$libs")"), $nodes node(s), logs in $root/node-*/logs"
echo "bootstrap servers: $bootstrap"
if [ "$detach" = 1 ]; then
  echo "${pids[*]}" >"$pidfile"
  echo "detached; stop with: $0 stop"
  exit 0
fi
echo "Ctrl-C stops it"
trap 'trap "" INT TERM; echo; echo stopping; stop_pids "${pids[@]}"; exit 0' INT TERM
# A node that dies by itself stops the rest.
wait -n "${pids[@]}" || true
echo "a node exited; stopping the cluster (logs in $root)" >&2
stop_pids "${pids[@]}"
exit 1
