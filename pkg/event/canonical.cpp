#include "pkg/event/canonical.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <system_error>

namespace pipewright::event::canonical {

namespace {

// Reads canonical text and says no to anything it is not sure of: no is always safe (the
// caller parses instead).
class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  bool whole() {
    i_ = 0;
    return value(0) && i_ == s_.size();
  }

  bool whole_object(std::vector<Member>* members, std::string_view opaque = {}) {
    i_ = 0;
    members->clear();
    opaque_ = opaque;
    return object(0, members) && i_ == s_.size();
  }

 private:
  static constexpr int kMaxDepth = 32;  // well under pipewright::json::kMaxDepth

  bool value(int depth) {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return object(depth, nullptr);
      case '[':
        return array(depth);
      case '"':
        return string(nullptr);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool object(int depth, std::vector<Member>* members) {
    if (++depth > kMaxDepth || i_ >= s_.size() || s_[i_] != '{') return false;
    ++i_;
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    std::string_view previous;
    for (bool first = true;; first = false) {
      std::string_view key;
      if (!string(&key)) return false;
      // dump() writes a std::map's keys in order, once each; an escaped key is not compared.
      if ((!first && !(previous < key)) || key.find('\\') != std::string_view::npos) return false;
      previous = key;
      if (i_ >= s_.size() || s_[i_] != ':') return false;
      const std::size_t start = ++i_;
      // The opaque member of the top object is passed over, not read.
      if (!(depth == 1 && !opaque_.empty() && key == opaque_ ? extent() : value(depth)))
        return false;
      if (members != nullptr) members->push_back({key, s_.substr(start, i_ - start)});
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '}') {
        ++i_;
        return true;
      }
      if (s_[i_++] != ',') return false;
    }
  }

  bool array(int depth) {
    if (++depth > kMaxDepth) return false;
    ++i_;
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      if (!value(depth) || i_ >= s_.size()) return false;
      if (s_[i_] == ']') {
        ++i_;
        return true;
      }
      if (s_[i_++] != ',') return false;
    }
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  // Past the value at i_ (of the top object) without reading it: a string to its closing
  // quote, an object or array to its matching bracket (strings' brackets and escapes skipped;
  // no deeper than anything else here), anything else to the next ',', '}' or ']'. Where the
  // value is JSON that is its extent; where it is not, some text the caller's parser refuses.
  bool extent() {
    int open = 0;
    bool in_string = false;
    const std::size_t start = i_;
    for (; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (in_string) {
        if (c == '\\') {
          ++i_;
        } else if (c == '"') {
          in_string = false;
          if (open == 0) break;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        if (++open >= kMaxDepth) return false;  // as value(1) would
      } else if (c == '}' || c == ']') {
        if (open == 0) return i_ > start;  // a scalar's end: the bracket is the caller's
        if (--open == 0) break;
      } else if (c == ',' && open == 0) {
        return i_ > start;
      }
    }
    if (i_ >= s_.size()) return false;  // unterminated
    ++i_;
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;  // whitespace after it is the value's too
    return true;
  }

  std::size_t digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
      ++i_;
    return i_ - start;
  }

  // JSON's number grammar. An integer is canonical with at most 18 digits (an int64 either
  // way) and no "-0"; a number with a fraction or exponent when dump() writes the double it
  // parses to (nlohmann's lexer: strtod, correctly rounded like from_chars) as this very text.
  bool number() {
    const std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    const std::size_t int_start = i_;
    const std::size_t n = digits();
    if (n == 0 || (s_[int_start] == '0' && n > 1)) return false;
    bool fractional = false;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (digits() == 0) return false;
      fractional = true;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0) return false;
      fractional = true;
    }
    const auto text = s_.substr(start, i_ - start);
    if (!fractional) return n <= 18 && !(s_[int_start] == '0' && int_start > start);
    if (text.size() > 32) return false;  // longer than anything dump() writes
    double x = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(x)) return false;
    char buffer[64];
    const char* written = nlohmann::detail::to_chars(buffer, buffer + sizeof buffer, x);
    return std::string_view(buffer, static_cast<std::size_t>(written - buffer)) == text;
  }

  // A string whose escapes are only dump()'s short ones and whose bytes are valid UTF-8
  // (dump() writes those bytes unchanged). *content: the text between the quotes.
  bool string(std::string_view* content) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    const std::size_t start = ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        if (content != nullptr) *content = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return false;
        const char e = s_[i_ + 1];
        if (e != '"' && e != '\\' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
          return false;
        i_ += 2;
      } else if (c >= 0x20 && c < 0x80) {
        ++i_;
      } else if (c < 0x20 || !utf8()) {  // a raw control character is no JSON
        return false;
      }
    }
    return false;
  }

  // One well-formed UTF-8 sequence of two to four bytes (RFC 3629's table: no overlong forms,
  // no surrogates, nothing above U+10FFFF).
  bool utf8() {
    const auto at = [&](std::size_t k) {
      return i_ + k < s_.size() ? static_cast<unsigned char>(s_[i_ + k]) : 0;
    };
    const auto c = at(0);
    unsigned char lo = 0x80, hi = 0xBF;
    std::size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (at(1) < lo || at(1) > hi) return false;
    for (std::size_t k = 2; k < n; ++k) {
      if (at(k) < 0x80 || at(k) > 0xBF) return false;
    }
    i_ += n;
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string_view opaque_;
};

}  // namespace

bool whole(std::string_view text) {
  return Scanner(text).whole();
}

bool object(std::string_view text, std::vector<Member>* members) {
  return Scanner(text).whole_object(members);
}

bool object_but(std::string_view text, std::string_view opaque, std::vector<Member>* members) {
  return Scanner(text).whole_object(members, opaque);
}

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.append(1, '"').append(s).append(1, '"');
  // Without a backslash or quote inside, a canonical string is its bytes (no escape at all).
  if (s.find_first_of("\"\\") == std::string_view::npos && whole(out)) return out;
  return nlohmann::json(std::string(s)).dump();
}

std::string with_member(std::string_view text, const std::vector<Member>& members,
                        std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(text.size() + key.size() + value.size() + 4);
  const auto offset = [&](std::string_view part) {
    return static_cast<std::size_t>(part.data() - text.data());
  };
  for (const auto& m : members) {
    if (m.key < key) continue;
    if (m.key == key) {  // the value replaced in place
      const auto at = offset(m.value);
      out.append(text.substr(0, at)).append(value).append(text.substr(at + m.value.size()));
    } else {  // the member goes before the first key after it: keys stay sorted
      const auto at = offset(m.key) - 1;  // its opening quote
      out.append(text.substr(0, at)).append(1, '"').append(key).append("\":").append(value);
      out.append(1, ',').append(text.substr(at));
    }
    return out;
  }
  const auto at = text.size() - 1;  // the closing brace: the member goes last
  out.append(text.substr(0, at)).append(members.empty() ? "" : ",");
  out.append(1, '"').append(key).append("\":").append(value).append(1, '}');
  return out;
}

}  // namespace pipewright::event::canonical
