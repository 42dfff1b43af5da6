#pragma once
// JSON text that nlohmann's dump() would write back byte for byte ("canonical"): no whitespace,
// object keys sorted and unique, strings with dump()'s own escapes only and valid UTF-8,
// integers of at most 18 digits, floating-point numbers exactly as dump() writes their value,
// nested at most 32 deep. Such text is the document: a step that only adds a key to an event's
// data splices the text instead of parsing and dumping it (enrich), and the events gateway
// frames an event's data as it came. Every check answers no when unsure (the caller then
// parses, which also says why a text is no JSON): a yes means parse(text).dump() == text.

#include <string>
#include <string_view>
#include <vector>

namespace pipewright::event::canonical {

// One member of a scanned object: its key (the text between the quotes, never escaped) and
// its value's text, both views into the scanned text.
struct Member {
  std::string_view key, value;
};

// The whole text is one canonical value.
bool whole(std::string_view text);

// The whole text is one canonical object; *members gets its members in order.
bool object(std::string_view text, std::vector<Member>* members);

// The same except for the value of the member `opaque` (not empty), which is not read: its
// text is passed over (strings and brackets matched) and is that value's when the value is
// JSON; the whole text is JSON exactly when that value is. For a reader that parses the value
// itself and refuses what is no JSON.
bool object_but(std::string_view text, std::string_view opaque, std::vector<Member>* members);

// The canonical text of the JSON string `s`, as dump() writes it. Throws nlohmann's
// json::type_error, as dump() does, when `s` is not valid UTF-8.
std::string quoted(std::string_view s);

// The canonical object `text` (scanned by object() into `members`) with the member `key` set
// to `value` (canonical text): parse(text), j[key] = parse(value), dump(), without either
// document. `key` must need no escaping (letters, digits, '-', '_').
std::string with_member(std::string_view text, const std::vector<Member>& members,
                        std::string_view key, std::string_view value);

}  // namespace pipewright::event::canonical
