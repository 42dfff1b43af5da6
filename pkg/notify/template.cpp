#include "pkg/notify/template.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace pipewright::notify {
namespace {

struct Text {
  const char* operation;
  const char* requires_field;  // chosen only when this field is present and not empty
  const char* pt_br;
  const char* en;
};

// Built-in sentences; SPEC section 3 fixes the image ones word for word.
constexpr std::array kMessages = {
    Text{"rotate", "", "O arquivo {file} foi rotacionado.", "The file {file} was rotated."},
    Text{"grayscale", "", "O arquivo {file} foi transformado em preto e branco.",
         "The file {file} was converted to grayscale."},
    Text{"order.received", "", "O pedido {order} foi recebido.", "Order {order} was received."},
    Text{"order.valid", "", "O pedido {order} foi aprovado.", "Order {order} was approved."},
    Text{"order.rejected", "reasons", "O pedido {order} foi rejeitado: {reasons}.",
         "Order {order} was rejected: {reasons}."},
    Text{"order.rejected", "", "O pedido {order} foi rejeitado.", "Order {order} was rejected."},
    Text{"", "file", "A operação {operation} foi concluída para o arquivo {file}.",
         "The operation {operation} was completed for the file {file}."},
    Text{"", "", "A operação {operation} foi concluída.",
         "The operation {operation} was completed."},
};

constexpr std::array kSubjects = {
    Text{"rotate", "", "Pipewright: {file} rotacionado", "Pipewright: {file} rotated"},
    Text{"grayscale", "", "Pipewright: {file} em preto e branco",
         "Pipewright: {file} converted to grayscale"},
    Text{"order.received", "", "Pipewright: pedido {order} recebido",
         "Pipewright: order {order} received"},
    Text{"order.valid", "", "Pipewright: pedido {order} aprovado",
         "Pipewright: order {order} approved"},
    Text{"order.rejected", "", "Pipewright: pedido {order} rejeitado",
         "Pipewright: order {order} rejected"},
    Text{"", "file", "Pipewright: {file} ({operation})", "Pipewright: {file} ({operation})"},
    Text{"", "", "Pipewright: {operation}", "Pipewright: {operation}"},
};

bool has_field(const nlohmann::json& fields, const std::string& name) {
  if (!fields.is_object()) return false;
  const auto it = fields.find(name);
  if (it == fields.end() || it->is_null()) return false;
  return !((it->is_string() || it->is_array() || it->is_object()) && it->empty());
}

bool is_locale(const std::string& locale) {
  const auto& all = locales();
  return std::find(all.begin(), all.end(), locale) != all.end();
}

template <std::size_t N>
std::string pick(const std::array<Text, N>& table, const std::string& operation,
                 const std::string& locale, const nlohmann::json& fields) {
  if (!is_locale(locale)) throw std::invalid_argument("unknown locale '" + locale + "'");
  bool known = false;
  for (const auto& t : table)
    known = known || operation == t.operation;
  for (const auto& t : table) {
    // Entries without an operation are the generic sentences, for operations we do not know.
    if (operation != t.operation && (known || t.operation[0] != '\0')) continue;
    if (t.requires_field[0] != '\0' && !has_field(fields, t.requires_field)) continue;
    return locale == "en" ? t.en : t.pt_br;
  }
  return "{operation}";  // unreachable: the table ends with an unconditional generic entry
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v) {
      if (!out.empty()) out += "; ";
      out += value_text(item);
    }
    return out;
  }
  return v.dump();
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
}

}  // namespace

const std::vector<std::string>& locales() {
  static const std::vector<std::string> all = {"pt-BR", "en"};
  return all;
}

std::string fill(const std::string& text, const std::string& operation,
                 const nlohmann::json& fields) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i + 1;
    if (text[i] == '{') {
      while (end < text.size() && name_char(text[end]))
        ++end;
    }
    if (text[i] != '{' || end == i + 1 || end >= text.size() || text[end] != '}') {
      out += text[i++];
      continue;
    }
    const std::string name = text.substr(i + 1, end - i - 1);
    std::string value;
    if (name == "operation" && !has_field(fields, name)) {
      value = operation;
    } else if (has_field(fields, name)) {
      value = value_text(fields.at(name));
    } else {
      value = text.substr(i, end - i + 1);  // left as written: the template names a field
    }                                       // the event does not have
    // "rejeitado: {reasons}." with reasons "amount too high." must not end in "..".
    if (!value.empty() && value.back() == '.' && end + 1 < text.size() && text[end + 1] == '.') {
      value.pop_back();
    }
    out += value;
    i = end + 1;
  }
  return out;
}

std::string render_message(const std::string& operation, const std::string& locale,
                           const std::map<std::string, std::string>& overrides,
                           const nlohmann::json& fields) {
  if (!is_locale(locale)) throw std::invalid_argument("unknown locale '" + locale + "'");
  const auto it = overrides.find(operation);
  const std::string text =
      it != overrides.end() ? it->second : pick(kMessages, operation, locale, fields);
  return fill(text, operation, fields);
}

std::string render_subject(const std::string& operation, const std::string& locale,
                           const nlohmann::json& fields) {
  return fill(pick(kSubjects, operation, locale, fields), operation, fields);
}

}  // namespace pipewright::notify
