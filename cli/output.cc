#include "cli/output.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace nvmeof::cli {
namespace {

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const auto nl = s.find('\n', start);
    lines.push_back(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

std::string Repeat(const std::string& unit, std::size_t n) {
  std::string out;
  out.reserve(unit.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += unit;
  return out;
}

enum class Align { kLeft, kRight, kCenter };

std::string Pad(const std::string& s, std::size_t width, Align align) {
  const std::size_t w = DisplayWidth(s);
  if (w >= width) return s;
  const std::size_t space = width - w;
  switch (align) {
    case Align::kRight:
      return std::string(space, ' ') + s;
    case Align::kCenter: {
      const std::size_t left = space / 2;
      return std::string(left, ' ') + s + std::string(space - left, ' ');
    }
    case Align::kLeft:
    default:
      return s + std::string(space, ' ');
  }
}

// One logical row (header or data) as physical lines of padded cells.
std::vector<std::string> RowLines(const std::vector<std::vector<std::string>>& cells,
                                  const std::vector<std::size_t>& widths,
                                  const std::vector<Align>& aligns, const std::string& left,
                                  const std::string& mid, const std::string& right) {
  std::size_t height = 1;
  for (const auto& c : cells) height = std::max(height, c.size());
  std::vector<std::string> out;
  for (std::size_t line = 0; line < height; ++line) {
    std::string s = left;
    for (std::size_t col = 0; col < widths.size(); ++col) {
      if (col > 0) s += mid;
      const std::string text = line < cells[col].size() ? cells[col][line] : std::string();
      s += Pad(text, widths[col], aligns[col]);
    }
    s += right;
    out.push_back(std::move(s));
  }
  return out;
}

bool LooksLikeOtherYamlType(const std::string& s) {
  if (s.empty()) return true;
  static const std::regex kSpecial(
      "^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|"
      "null|Null|NULL|~)$");
  static const std::regex kNumber(
      "^[-+]?([0-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+|(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)"
      "([eE][-+]?[0-9]+)?|\\.(inf|Inf|INF|nan|NaN|NAN))$");
  if (std::isspace(static_cast<unsigned char>(s.front())) ||
      std::isspace(static_cast<unsigned char>(s.back())))
    return true;
  return std::regex_match(s, kSpecial) || std::regex_match(s, kNumber);
}

void EmitYaml(YAML::Emitter& out, const nlohmann::ordered_json& j) {
  if (j.is_object()) {
    if (j.empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    std::sort(keys.begin(), keys.end());  // like PyYAML's default sort_keys
    out << YAML::BeginMap;
    for (const auto& k : keys) {
      out << YAML::Key << k << YAML::Value;
      EmitYaml(out, j.at(k));
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    if (j.empty()) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out << YAML::BeginSeq;
    for (const auto& e : j) EmitYaml(out, e);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (LooksLikeOtherYamlType(s))
      out << YAML::SingleQuoted << s;
    else
      out << s;
  } else if (j.is_boolean()) {
    out << j.get<bool>();
  } else if (j.is_number_unsigned()) {
    out << j.get<std::uint64_t>();
  } else if (j.is_number_integer()) {
    out << j.get<std::int64_t>();
  } else if (j.is_number_float()) {
    out << j.get<double>();
  } else {
    out << YAML::Null;
  }
}

std::string ProtoJson(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  options.always_print_enums_as_ints = false;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(msg, &out, options);
  if (!status.ok()) return "{}";
  return out;
}

}  // namespace

std::size_t DisplayWidth(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {  // SGR escape (e.g. reverse video): no width
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      continue;
    }
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

std::string BreakString(const std::string& s, char delim, int count) {
  std::size_t start = 0;
  std::size_t ind = std::string::npos;
  for (int i = 0; i < count; ++i) {
    ind = s.find(delim, start);
    if (ind == std::string::npos) return s;
    start = ind + 1;
  }
  if (ind == std::string::npos) return s;
  return s.substr(0, ind + 1) + "\n" + s.substr(ind + 1);
}

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<Cell>>& rows, TableStyle style,
                        StringAlign string_align) {
  std::size_t ncols = headers.size();
  for (const auto& r : rows) ncols = std::max(ncols, r.size());
  if (ncols == 0) return {};

  // Column types: numeric when every non-empty cell is numeric.
  std::vector<bool> numeric(ncols, true);
  std::vector<bool> any(ncols, false);
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) {
      if (r[c].text.empty()) continue;
      any[c] = true;
      if (!r[c].numeric) numeric[c] = false;
    }
  }
  std::vector<Align> aligns(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    if (any[c] && numeric[c])
      aligns[c] = Align::kRight;
    else
      aligns[c] = string_align == StringAlign::kCenter ? Align::kCenter : Align::kLeft;
  }

  std::vector<std::vector<std::string>> head(ncols);
  for (std::size_t c = 0; c < ncols; ++c)
    head[c] = c < headers.size() ? SplitLines(headers[c]) : std::vector<std::string>{""};
  std::vector<std::vector<std::vector<std::string>>> body;
  for (const auto& r : rows) {
    std::vector<std::vector<std::string>> cells(ncols);
    for (std::size_t c = 0; c < ncols; ++c)
      cells[c] = c < r.size() ? SplitLines(r[c].text) : std::vector<std::string>{""};
    body.push_back(std::move(cells));
  }

  std::vector<std::size_t> widths(ncols, 0);
  for (std::size_t c = 0; c < ncols; ++c) {
    for (const auto& l : head[c]) widths[c] = std::max(widths[c], DisplayWidth(l));
    for (const auto& r : body)
      for (const auto& l : r[c]) widths[c] = std::max(widths[c], DisplayWidth(l));
  }

  std::vector<std::string> lines;
  if (style == TableStyle::kPlain) {
    auto add = [&](const std::vector<std::vector<std::string>>& cells) {
      for (auto& l : RowLines(cells, widths, aligns, "", "  ", "")) {
        while (!l.empty() && l.back() == ' ') l.pop_back();
        lines.push_back(std::move(l));
      }
    };
    add(head);
    for (const auto& r : body) add(r);
  } else {
    auto rule = [&](const char* l, const char* fill, const char* m, const char* r) {
      std::string s = l;
      for (std::size_t c = 0; c < ncols; ++c) {
        if (c > 0) s += m;
        s += Repeat(fill, widths[c] + 2);
      }
      return s + r;
    };
    lines.push_back(rule("╒", "═", "╤", "╕"));
    for (auto& l : RowLines(head, widths, aligns, "│ ", " │ ", " │")) lines.push_back(l);
    lines.push_back(rule("╞", "═", "╪", "╡"));
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (i > 0) lines.push_back(rule("├", "─", "┼", "┤"));
      for (auto& l : RowLines(body[i], widths, aligns, "│ ", " │ ", " │")) lines.push_back(l);
    }
    lines.push_back(rule("╘", "═", "╧", "╛"));
  }

  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  return out;
}

std::string MessageToJson(const google::protobuf::Message& msg) {
  const auto doc = nlohmann::ordered_json::parse(ProtoJson(msg), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return ProtoJson(msg);
  return doc.dump(4);
}

std::string MessageToYaml(const google::protobuf::Message& msg) {
  const auto doc = nlohmann::ordered_json::parse(ProtoJson(msg), nullptr, /*allow_exceptions=*/false);
  YAML::Emitter out;
  out.SetIndent(2);
  EmitYaml(out, doc.is_discarded() ? nlohmann::ordered_json::object() : doc);
  return std::string(out.c_str()) + "\n";
}

}  // namespace nvmeof::cli
