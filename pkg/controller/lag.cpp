#include "pkg/controller/lag.h"

#include <algorithm>

#include "pkg/controller/status.h"
#include "pkg/log/log.h"
#include "pkg/plan/topics.h"

namespace pipewright::controller {

std::optional<bool> lag_growing(const std::vector<std::int64_t>& samples) {
  if (samples.size() < kLagSamples) return std::nullopt;
  for (std::size_t i = samples.size() - kLagSamples + 1; i < samples.size(); ++i) {
    if (samples[i] <= samples[i - 1]) return false;
  }
  return true;
}

std::int64_t reported_lag(std::optional<std::int64_t> shown, std::int64_t sample) {
  if (!shown) return sample;
  if ((*shown == 0) != (sample == 0)) return sample;
  const std::int64_t larger = std::max(*shown, sample);
  const std::int64_t moved = *shown > sample ? *shown - sample : sample - *shown;
  return moved * 10 > larger ? sample : *shown;
}

void observe_lag(LagMonitor& monitor, const api::Pipeline& p, const std::string& bootstrap,
                 PipelineObservation& o) {
  const auto sample = monitor.observe(p, bootstrap);
  o.lag_watched = true;
  o.lag_unknown = !sample.error.empty();
  for (const auto& [name, step] : sample.steps)
    o.step_lag[name] = {step.lag, step.dead_letters, lag_growing(step.samples)};
}

LagMonitor::LagMonitor(OffsetReaderFor reader, std::chrono::milliseconds interval, Clock now)
    : reader_(std::move(reader)), interval_(interval), now_(std::move(now)) {}

void LagMonitor::forget(const std::string& ns, const std::string& name) {
  const std::lock_guard lock(mu_);
  last_.erase(ns + "/" + name);
}

PipelineLag LagMonitor::observe(const api::Pipeline& p, const std::string& bootstrap) {
  const std::string key = p.meta.namespace_ + "/" + p.meta.name;
  const auto now = now_();
  PipelineLag before;
  {
    const std::lock_guard lock(mu_);
    if (const auto it = last_.find(key); it != last_.end()) {
      if (now - it->second.first < interval_) return it->second.second;
      before = it->second.second;
    }
  }
  // Read outside the lock: one slow cluster must not hold up the other Pipelines' reconciles.
  PipelineLag sample = read(p, bootstrap, before);
  const std::lock_guard lock(mu_);
  last_[key] = {now, sample};
  return sample;
}

PipelineLag LagMonitor::read(const api::Pipeline& p, const std::string& bootstrap,
                             const PipelineLag& before) const {
  const auto kafka_name = [&](const std::string& logical) {
    for (const auto& t : p.topics) {
      if (t.name == logical) return plan::topic_name(p, t);
    }
    return logical;  // the schema and the parser refuse an undeclared input; never reached
  };
  PipelineLag out;
  try {
    const auto reader = reader_(bootstrap, p.meta.namespace_, p.kafka_secret);
    for (const auto& s : p.steps) {
      if (s.inputs.empty()) continue;
      std::vector<std::string> inputs, dead_letters;
      for (const auto& logical : s.inputs) {
        inputs.push_back(kafka_name(logical));
        dead_letters.push_back(plan::dead_letter_topic(inputs.back()));
      }
      StepLag step;
      step.lag = kafka::total_lag(reader->offsets(plan::consumer_group(p, s), inputs));
      const auto& delivery = s.delivery ? *s.delivery : p.delivery;
      if (delivery.dead_letter)
        step.dead_letters = kafka::retained(reader->offsets("", dead_letters));
      if (const auto it = before.steps.find(s.name); it != before.steps.end())
        step.samples = it->second.samples;
      step.samples.push_back(*step.lag);
      if (step.samples.size() > kLagSamples)
        step.samples.erase(step.samples.begin(),
                           step.samples.end() - static_cast<std::ptrdiff_t>(kLagSamples));
      out.steps[s.name] = std::move(step);
    }
  } catch (const std::exception& e) {
    // Nothing known this time: status keeps what it showed, and the samples start over (a gap
    // of unknown length is no evidence of a trend).
    log::debug("consumer lag not read",
               {{"pipeline", p.meta.namespace_ + "/" + p.meta.name}, {"error", e.what()}});
    out.steps.clear();
    out.error = e.what();
  }
  return out;
}

}  // namespace pipewright::controller
