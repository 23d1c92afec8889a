// Request messages <-> stored JSON: see state_json.h.
#include "api/state_json.h"

#include <google/protobuf/util/json_util.h>

#include "api/errc.h"
#include "gateway/common/log.h"
#include "gateway/state/state_keys.h"

namespace nvmeof::api {

namespace {

std::string CompactJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) LOG_ERROR("cannot render %s as JSON: %s", m.GetTypeName().c_str(), st.ToString().c_str());
  return out;
}

}  // namespace

std::string RequestToJson(const google::protobuf::Message& m) { return IndentStateJson(CompactJson(m)); }

std::string RewriteStateJson(const std::string& stored, const google::protobuf::Message& m) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  return IndentStateJson(KeepUnknownStateFields(stored, CompactJson(m), [d](const std::string& name) {
    return d->FindFieldByName(name) != nullptr;
  }));
}

Status JsonToRequest(const std::string& json, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(json, m, o);
  if (!st.ok())
    return Status::Error(errc::kInvalidRequest, "cannot parse " + m->GetTypeName() + " from state JSON: " +
                                   std::string(st.message()));
  return Status::OK();
}

}  // namespace nvmeof::api
