// gwcli output rendering: tables (text/plain), JSON and YAML views of replies.
#pragma once

#include <string>
#include <vector>

namespace google::protobuf {
class Message;
}

namespace nvmeof::cli {

// A table cell. Numeric cells are right-aligned, like the reference CLI's
// tables (a column is numeric when all its non-empty cells are).
struct Cell {
  Cell(std::string t) : text(std::move(t)) {}  // NOLINT: implicit on purpose
  Cell(const char* t) : text(t) {}             // NOLINT
  Cell(long long v) : text(std::to_string(v)), numeric(true) {}            // NOLINT
  Cell(unsigned long long v) : text(std::to_string(v)), numeric(true) {}   // NOLINT
  Cell(int v) : Cell(static_cast<long long>(v)) {}                         // NOLINT
  Cell(unsigned v) : Cell(static_cast<unsigned long long>(v)) {}           // NOLINT
  Cell(long v) : Cell(static_cast<long long>(v)) {}                        // NOLINT
  Cell(unsigned long v) : Cell(static_cast<unsigned long long>(v)) {}      // NOLINT
  std::string text;  // may contain '\n' for multi-line cells
  bool numeric = false;
};

enum class TableStyle {
  kGrid,   // --format text: box-drawing grid (the reference's "fancy_grid")
  kPlain,  // --format plain: bare columns separated by two spaces
};

enum class StringAlign { kLeft, kCenter };

// Renders rows under headers. Rows shorter than the header are padded with
// empty cells. No trailing newline.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<Cell>>& rows, TableStyle style,
                        StringAlign string_align = StringAlign::kLeft);

// Number of terminal columns of a UTF-8 string (code points; no wide chars
// expected in gateway data; SGR escapes such as reverse video take none).
std::size_t DisplayWidth(const std::string& s);

// The reply as JSON: proto field names, default values included, enums as
// names, 64-bit integers as strings (the protobuf JSON mapping), indented by
// 4 like the reference CLI. No trailing newline.
std::string MessageToJson(const google::protobuf::Message& msg);

// The same document as YAML (block style, keys sorted, strings that would
// read back as another type quoted). Ends with a newline.
std::string MessageToYaml(const google::protobuf::Message& msg);

// Inserts a newline after the count-th occurrence of delim (the reference's
// way of narrowing long cells); unchanged when there are fewer occurrences.
std::string BreakString(const std::string& s, char delim, int count);

}  // namespace nvmeof::cli
