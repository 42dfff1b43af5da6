#!/bin/sh
# Formats the data folder on first start, then runs the broker in combined (KRaft) mode.
# KAFKA_ADVERTISED is the bootstrap address pods use (the Service's DNS name); with
# KAFKA_SASL_ADVERTISED and KAFKA_SASL_PASSWORD a second listener takes SASL/PLAIN for the user
# `pipewright` (the credentials test's Kafka).
set -eu
data=/var/lib/kafka/data
conf=/tmp/server.properties
cat > "$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
PROPS
# The broker listens on the pod's own address (POD_IP, the downward API's status.podIP), where
# Services reach it; the controller stays on loopback. Never a wildcard address.
: "${POD_IP:?POD_IP (the pod's address, from the downward API) is required}"
if [ -n "${KAFKA_SASL_ADVERTISED:-}" ] && [ -n "${KAFKA_SASL_PASSWORD:-}" ]; then
  cat >> "$conf" <<PROPS
listeners=PLAINTEXT://${POD_IP}:9092,CONTROLLER://127.0.0.1:9093,SASL_PLAINTEXT://${POD_IP}:9094
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED},SASL_PLAINTEXT://${KAFKA_SASL_ADVERTISED}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_pipewright="${KAFKA_SASL_PASSWORD}";
PROPS
else
  cat >> "$conf" <<PROPS
listeners=PLAINTEXT://${POD_IP}:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
fi
cat > /tmp/log4j.properties <<'LOG'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
LOG
cp="/opt/kafka/libs/*"
log4j=-Dlog4j.configuration=file:/tmp/log4j.properties
if [ ! -f "$data/meta.properties" ]; then
  id=$(java -cp "$cp" "$log4j" kafka.tools.StorageTool random-uuid)
  java -cp "$cp" "$log4j" kafka.tools.StorageTool format -t "$id" -c "$conf"
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true "$log4j" -cp "$cp" kafka.Kafka "$conf"
