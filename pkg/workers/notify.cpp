// The notify worker: one notification per event and channel, never two. Channels that succeeded
// are remembered by (event id, channel) before the offset is committed, so a retry after a
// failing channel, a redelivery or a producer that repeated an event sends nothing twice.

#include <nlohmann/json.hpp>

#include "pkg/json/limited.h"
#include "pkg/log/log.h"
#include "pkg/notify/channel.h"
#include "pkg/notify/settings.h"
#include "pkg/runtime/seen.h"
#include "pkg/workers/workers.h"

namespace pipewright::workers {
namespace {

int run_notify(runtime::Runtime& runtime) {
  notify::Settings settings;
  try {
    settings = notify::parse_settings(runtime.config());
    notify::load_credentials(settings, notify::process_env);
  } catch (const notify::ConfigError& e) {
    throw runtime::ConfigError(e.what());
  }
  const auto channels = std::make_shared<std::vector<std::unique_ptr<notify::Channel>>>(
      notify::make_channels(settings));
  // Durable when the step has storage; otherwise it lasts as long as the process.
  const auto& w = runtime.wiring();
  const auto sent = std::make_shared<runtime::SeenLog>(
      w.data_dir.empty() ? std::filesystem::path()
                         : w.data_dir / ".pipewright" / (w.pipeline + "." + w.step + ".sent"));

  return runtime.run([settings, channels, sent, source = w.source()](const kafka::InMessage& m) {
    // A CloudEvent in either mode (or an old envelope), in the envelope's shape the
    // notification is made from.
    const auto in = runtime::read_event(m);
    const nlohmann::json event = {{"id", in.id},
                                  {"type", in.type},
                                  {"time", in.time},
                                  {"source", in.source},
                                  {"data", in.data}};
    notify::Notification n;
    try {
      n = notify::make_notification(settings, event);
    } catch (const std::invalid_argument& e) {
      throw runtime::PermanentError(e.what());
    }
    n.source = source;
    if (n.event_id.empty()) throw runtime::PermanentError("the event has no id");
    // Every channel gets its chance; one failing channel does not hold back the others.
    std::string retriable, permanent;
    for (const auto& channel : *channels) {
      const auto key = n.event_id + "/" + channel->name();
      if (sent->contains(key)) continue;
      if (!channel->can_send(n)) {
        log::info("no recipient for this channel; skipped",
                  {{"id", n.event_id}, {"channel", channel->name()}});
        continue;
      }
      try {
        channel->send(n);
      } catch (const notify::ChannelError& e) {
        (e.retriable() ? retriable : permanent) += std::string(e.what()) + "; ";
        continue;
      }
      sent->add(key);
      log::info("notified", {{"id", n.event_id}, {"channel", channel->name()}});
    }
    if (!retriable.empty()) throw std::runtime_error(retriable + permanent);
    if (!permanent.empty()) throw runtime::PermanentError(permanent);
    return std::vector<kafka::OutMessage>{};
  });
}

}  // namespace

std::vector<Kind> notify_workers() {
  return {{"notify", run_notify}};
}

}  // namespace pipewright::workers
