#include "pkg/local/kafka_broker.h"

#include <librdkafka/rdkafkacpp.h>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "pkg/local/tools.h"
#include "pkg/log/log.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"

namespace pipewright::local {
namespace {

std::string classpath() {
  return (kafka_libs() / "*").string();
}

}  // namespace

bool kafka_answers(const std::string& bootstrap, std::chrono::milliseconds timeout) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (conf->set("bootstrap.servers", bootstrap, err) != RdKafka::Conf::CONF_OK) return false;
  conf->set("log_level", "0", err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) return false;
  RdKafka::Metadata* raw = nullptr;
  const auto code = producer->metadata(true, nullptr, &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> md(raw);
  return code == RdKafka::ERR_NO_ERROR && md && !md->brokers()->empty();
}

std::unique_ptr<KafkaBroker> KafkaBroker::start(const KafkaOptions& options) {
  std::unique_ptr<KafkaBroker> broker(new KafkaBroker(options));
  // A port picked by the OS may be taken again before the JVM binds it: try a few times.
  for (int attempt = 1;; ++attempt) {
    broker->port_ = options.port != 0 ? options.port : proc::free_port();
    broker->controller_port_ = proc::free_port();
    try {
      broker->launch();
      return broker;
    } catch (const std::exception& e) {
      if (attempt >= 3 || options.port != 0) throw;
      log::warn("kafka did not start, retrying on other ports", {{"error", e.what()}});
      std::filesystem::remove_all(options.dir / "data");
    }
  }
}

void KafkaBroker::launch() {
  const auto& dir = options_.dir;
  std::filesystem::create_directories(dir);
  const auto props = dir / "server.properties";
  {
    std::ofstream out(props);
    out << "process.roles=broker,controller\n"
        << "node.id=1\n"
        << "controller.quorum.voters=1@127.0.0.1:" << controller_port_ << "\n"
        << "listeners=PLAINTEXT://127.0.0.1:" << port_
        << ",CONTROLLER://127.0.0.1:" << controller_port_ << "\n"
        << "advertised.listeners=PLAINTEXT://127.0.0.1:" << port_ << "\n"
        << "controller.listener.names=CONTROLLER\n"
        << "inter.broker.listener.name=PLAINTEXT\n"
        << "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
        << "log.dirs=" << (dir / "data").string() << "\n"
        << "num.partitions=1\n"
        << "offsets.topic.replication.factor=1\n"
        << "offsets.topic.num.partitions=10\n"
        << "transaction.state.log.replication.factor=1\n"
        << "transaction.state.log.min.isr=1\n"
        << "group.initial.rebalance.delay.ms=0\n"
        << "auto.create.topics.enable=false\n"
        << "delete.topic.enable=true\n";
  }
  {
    std::ofstream out(dir / "log4j.properties");
    out << "log4j.rootLogger=INFO, stdout\n"
        << "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        << "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        << "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        << "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n";
  }
  const std::string java = system_tool("java").string();
  const std::string log4j = "-Dlog4j.configuration=file:" + (dir / "log4j.properties").string();
  if (!std::filesystem::exists(dir / "data" / "meta.properties")) {
    const auto id =
        proc::run({java, "-cp", classpath(), log4j, "kafka.tools.StorageTool", "random-uuid"});
    std::string cluster_id = id.output.substr(0, id.output.find_first_of("\r\n"));
    if (id.exit_code != 0 || cluster_id.empty()) {
      throw std::runtime_error("kafka storage tool failed: " + id.output);
    }
    const auto fmt = proc::run({java, "-cp", classpath(), log4j, "kafka.tools.StorageTool",
                                "format", "-t", cluster_id, "-c", props.string()});
    if (fmt.exit_code != 0) throw std::runtime_error("kafka storage format failed: " + fmt.output);
  } else {
    // Reuse the data: only the listener ports in the properties change.
  }
  process_ = proc::Process::start(
      {{java, "-Xms" + options_.heap, "-Xmx" + options_.heap, "-XX:+UseG1GC",
        "-Djava.awt.headless=true", log4j, "-cp", classpath(), "kafka.Kafka", props.string()},
       {},
       log_file(),
       dir});
  const bool up = proc::poll_until(
      options_.start_timeout,
      [&] { return !process_.running() || kafka_answers(bootstrap(), std::chrono::seconds(1)); },
      std::chrono::milliseconds(200));
  if (!up || !process_.running()) {
    process_.stop();
    throw std::runtime_error("kafka broker did not come up on " + bootstrap() + "; log " +
                             log_file().string() + ":\n" + tail(log_file()));
  }
  log::info("kafka broker ready", {{"bootstrap", bootstrap()}, {"log", log_file().string()}});
}

void KafkaBroker::stop() {
  process_.stop(std::chrono::seconds(20));
}

void KafkaBroker::kill() {
  process_.kill(SIGKILL);
  proc::poll_until(
      std::chrono::seconds(20), [&] { return !process_.running(); }, std::chrono::milliseconds(20));
}

void KafkaBroker::restart() {
  stop();
  launch();
}

KafkaBroker::~KafkaBroker() {
  stop();
}

}  // namespace pipewright::local
