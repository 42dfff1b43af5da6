#pragma once
// The Kafka message shapes the event fuzz targets pick with their first byte: no headers (a
// legacy envelope or anything), a binary-mode CloudEvent's ce_ headers, or the structured
// content type.

#include <cstdint>

#include "pkg/event/envelope.h"

namespace pipewright::fuzz {

inline event::Headers kafka_headers(std::uint8_t shape) {
  switch (shape % 3) {
    case 1:
      return {{"ce_specversion", "1.0"},
              {"ce_id", "e-1"},
              {"ce_source", "/fuzz"},
              {"ce_type", "fuzz.event"},
              {"ce_time", "2026-12-01T00:00:00Z"},
              {"content-type", "application/json"}};
    case 2:
      return {{"content-type", "application/cloudevents+json"}};
    default:
      return {};
  }
}

}  // namespace pipewright::fuzz
