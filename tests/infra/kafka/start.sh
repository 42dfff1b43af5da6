#!/bin/sh
# Formats the data folder on first start, then runs the broker in combined (KRaft) mode.
# KAFKA_ADVERTISED is the bootstrap address pods use (the Service's DNS name).
set -eu
data=/var/lib/kafka/data
conf=/tmp/server.properties
cat > "$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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
