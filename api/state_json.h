// A request message as the group state stores it, and back: the value under each state key
// (gateway/state/state_keys.h) is the JSON of the request that created the item, rendered
// the way the reference gateway renders it, so that both gateways read each other's state.
//
// Pure functions: any thread. Rendering cannot fail for our messages (a failure is logged
// and gives what protobuf rendered); parsing returns InvalidArgument naming the message.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "gateway/common/status.h"

namespace nvmeof::api {

// JSON of a request as the reference persists it: proto field names, fields without
// presence always printed, optional fields only when set, laid out like Python's
// json.dumps(indent=2).
std::string RequestToJson(const google::protobuf::Message& m);
// RequestToJson of a changed item whose stored value was `stored`: the members of `stored`
// that are no field of `m` (a newer reference gateway's) are kept, after m's fields.
std::string RewriteStateJson(const std::string& stored, const google::protobuf::Message& m);
// Parses stored JSON into `m`; fields this gateway does not know are ignored.
Status JsonToRequest(const std::string& json, google::protobuf::Message* m);

}  // namespace nvmeof::api
