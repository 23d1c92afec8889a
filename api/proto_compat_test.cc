// api/gateway.proto against the reference gateway's current API, field by field.
//
// The reference side is tests/data/gateway-api-current.txt: the facts (RPCs with their
// request and response messages, enums with their values, messages with each field's number,
// name, label and type) read from the reference's control/proto/gateway.proto. Our side is
// the descriptors generated from api/gateway.proto, i.e. what goes on the wire.
//
// Every fact of the reference must hold here exactly. Allowed differences, this project's
// extensions: fields numbered 1000 and above in the reference's messages, and RPCs,
// messages and enums of its own. Anything else (a field missing, renumbered, renamed,
// retyped, a label changed, an extra field below 1000, an enum value changed or added, an
// RPC with other request or response types) fails the test with a line that says which.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/gateway.pb.h"

namespace {

namespace pb = google::protobuf;

constexpr int kFirstExtensionField = 1000;

struct Field {
  std::string name, label, type;
};

struct Reference {
  std::map<std::string, std::pair<std::string, std::string>> rpcs;  // name -> (request, response)
  std::map<std::string, std::map<std::string, int>> enums;            // name -> value -> number
  std::map<std::string, std::map<int, Field>> messages;               // name -> number -> field
};

// Parses the fixture; a malformed line fails the test (and is skipped).
Reference LoadReference(const std::string& path) {
  Reference ref;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::string line, current;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::vector<std::string> w;
    for (std::string t; is >> t;) w.push_back(t);
    if (w.empty()) continue;
    const std::string where = path + ":" + std::to_string(lineno) + ": ";
    if (line[0] == ' ') {
      if (w.size() != 4 || current.empty()) {
        ADD_FAILURE() << where << "bad field line";
        continue;
      }
      const int number = std::stoi(w[0]);
      EXPECT_FALSE(ref.messages[current].count(number)) << where << "field number given twice";
      ref.messages[current][number] = Field{w[1], w[2], w[3]};
    } else if (w[0] == "rpc" && w.size() == 4) {
      ref.rpcs[w[1]] = {w[2], w[3]};
      current.clear();
    } else if (w[0] == "enum" && w.size() >= 3) {
      for (size_t i = 2; i < w.size(); i++) {
        const auto eq = w[i].find('=');
        if (eq == std::string::npos) {
          ADD_FAILURE() << where << "bad enum value " << w[i];
          continue;
        }
        ref.enums[w[1]][w[i].substr(0, eq)] = std::stoi(w[i].substr(eq + 1));
      }
      current.clear();
    } else if (w[0] == "message" && w.size() == 2) {
      current = w[1];
      EXPECT_FALSE(ref.messages.count(current)) << where << "message given twice";
      ref.messages[current];
    } else {
      ADD_FAILURE() << where << "cannot parse \"" << line << "\"";
    }
  }
  return ref;
}

std::string Label(const pb::FieldDescriptor* f) {
  if (f->is_repeated()) return "repeated";
  return f->has_optional_keyword() ? "optional" : "-";
}

std::string TypeOf(const pb::FieldDescriptor* f) {
  if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) return f->message_type()->full_name();
  if (f->type() == pb::FieldDescriptor::TYPE_ENUM) return f->enum_type()->full_name();
  return f->type_name();
}

const pb::FileDescriptor* Ours() { return ::req_status::descriptor()->file(); }

class ProtoCompat : public ::testing::Test {
 protected:
  Reference ref = LoadReference(NVMEOF_API_REFERENCE_FIXTURE);
};

TEST_F(ProtoCompat, FixtureIsTheCurrentReference) {
  // The 47 RPCs of the reference as of 2026; a truncated fixture would prove nothing.
  EXPECT_EQ(ref.rpcs.size(), 47u);
  EXPECT_GE(ref.messages.size(), 90u);
  EXPECT_EQ(ref.enums.size(), 7u);
}

TEST_F(ProtoCompat, NoPackageAndTheGatewayService) {
  EXPECT_EQ(Ours()->package(), "");  // method paths are /Gateway/<rpc>
  ASSERT_NE(Ours()->FindServiceByName("Gateway"), nullptr);
}

TEST_F(ProtoCompat, EveryReferenceRpcWithItsTypes) {
  const pb::ServiceDescriptor* svc = Ours()->FindServiceByName("Gateway");
  ASSERT_NE(svc, nullptr);
  for (const auto& [name, types] : ref.rpcs) {
    const pb::MethodDescriptor* m = svc->FindMethodByName(name);
    if (!m) {
      ADD_FAILURE() << "rpc " << name << " is missing";
      continue;
    }
    EXPECT_EQ(m->input_type()->full_name(), types.first) << "rpc " << name << " request type";
    EXPECT_EQ(m->output_type()->full_name(), types.second) << "rpc " << name << " response type";
    EXPECT_FALSE(m->client_streaming() || m->server_streaming()) << "rpc " << name << " streams";
  }
  // RPCs of our own are allowed; they are listed so that a reviewer sees them.
  for (int i = 0; i < svc->method_count(); i++) {
    if (!ref.rpcs.count(svc->method(i)->name())) std::cout << "own rpc: " << svc->method(i)->name() << "\n";
  }
}

TEST_F(ProtoCompat, EveryReferenceEnumValueAndNoOther) {
  for (const auto& [name, values] : ref.enums) {
    const pb::EnumDescriptor* e = Ours()->FindEnumTypeByName(name);
    if (!e) {
      ADD_FAILURE() << "enum " << name << " is missing";
      continue;
    }
    for (const auto& [vname, number] : values) {
      const pb::EnumValueDescriptor* v = e->FindValueByName(vname);
      if (!v) {
        ADD_FAILURE() << "enum " << name << ": value " << vname << " is missing";
        continue;
      }
      EXPECT_EQ(v->number(), number) << "enum " << name << " value " << vname;
    }
    for (int i = 0; i < e->value_count(); i++)
      EXPECT_TRUE(values.count(e->value(i)->name())) << "enum " << name << ": value " << e->value(i)->name()
                                                     << " is not the reference's";
  }
}

TEST_F(ProtoCompat, EveryReferenceMessageFieldByField) {
  for (const auto& [name, fields] : ref.messages) {
    const pb::Descriptor* d = Ours()->FindMessageTypeByName(name);
    if (!d) {
      ADD_FAILURE() << "message " << name << " is missing";
      continue;
    }
    for (const auto& [number, want] : fields) {
      const pb::FieldDescriptor* f = d->FindFieldByNumber(number);
      if (!f) {
        ADD_FAILURE() << name << "." << want.name << " = " << number << " is missing";
        continue;
      }
      EXPECT_EQ(f->name(), want.name) << "message " << name << " field " << number;
      EXPECT_EQ(Label(f), want.label) << "message " << name << " field " << number << " (" << want.name << ") label";
      EXPECT_EQ(TypeOf(f), want.type) << "message " << name << " field " << number << " (" << want.name << ") type";
    }
    for (int i = 0; i < d->field_count(); i++) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f->number() >= kFirstExtensionField) continue;  // this project's extensions
      EXPECT_TRUE(fields.count(f->number()))
          << "message " << name << ": field " << f->name() << " = " << f->number()
          << " is not the reference's (extensions are numbered " << kFirstExtensionField << " and above)";
    }
    EXPECT_EQ(d->nested_type_count(), 0) << "message " << name << " has nested messages";
    EXPECT_EQ(d->enum_type_count(), 0) << "message " << name << " has nested enums";
  }
}

// The three fields whose wire meaning changed after 1.3, spelled out.
TEST_F(ProtoCompat, TheThreeChangedFields) {
  const pb::Descriptor* d = Ours()->FindMessageTypeByName("add_host_req");
  ASSERT_NE(d, nullptr);
  const pb::FieldDescriptor* f = d->FindFieldByNumber(5);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "psk_encrypted");
  EXPECT_NE(TypeOf(f), "string");  // the 2024 development proto's field 5
  EXPECT_EQ(TypeOf(Ours()->FindMessageTypeByName("namespace_cli")->FindFieldByNumber(13)), "bool");
  EXPECT_EQ(Ours()->FindMessageTypeByName("namespace_cli")->FindFieldByNumber(13)->name(), "auto_visible");
  EXPECT_EQ(Ours()->FindMessageTypeByName("namespace")->FindFieldByNumber(8)->name(), "auto_visible");
  EXPECT_EQ(Ours()->FindMessageTypeByName("add_host_req")->FindFieldByNumber(7)->name(), "dhchap_ctrlr_key");
}

}  // namespace
