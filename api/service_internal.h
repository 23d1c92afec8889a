// Private to the GatewayService implementation (api/service.cc, frontend.cc, backend.cc,
// rpc_*.cc), not part of the API: the reply conventions every RPC follows (Answer, Ok,
// PeerMsg: gRPC OK with status = errno and the reference's messages) and the conversions
// that the RPC families and the state backend share (state keys of requests, listener
// specs, QoS limits). Defined in frontend.cc.
//
// Pure helpers without state: they run on the calling thread (gRPC threads, or the
// StateFollower's thread), under whatever lock the caller holds.
#pragma once

#include <cstdint>
#include <string>

#include "api/service.h"
#include "api/state_json.h"
#include "api/validate.h"
#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/common/strings.h"
#include "gateway/state/state_keys.h"
#include "gateway/transport/tcp/tcp_transport.h"

namespace nvmeof::api::internal {

inline constexpr uint32_t kDefaultTrsvcid = 4420;
inline constexpr char kSuccess[] = "Success";  // os.strerror(0), what the reference answers on success

// ", client address: ipv4:127.0.0.1:5000" for the log lines (like the reference).
std::string PeerMsg(::grpc::ServerContext* ctx);

// The reply: status = errno (0: success, message "Success"); a failure is logged.
template <class R>
::grpc::Status Answer(R* rep, int status, const std::string& msg) {
  rep->set_status(status);
  rep->set_error_message(status == 0 ? std::string(kSuccess) : msg);
  if (status != 0) LOG_ERROR("%s", msg.c_str());
  return ::grpc::Status::OK;
}

template <class R>
::grpc::Status Ok(R* rep) {
  return Answer(rep, 0, "");
}

std::string Str(uint32_t v);
// An RBD image as messages and the uniqueness rule name it: "POOL/IMAGE", or
// "POOL/NAMESPACE/IMAGE" in a RADOS namespace.
std::string RbdImagePath(const namespace_add_req& r);
// The RBD trash rule (the reference's): a namespace's image goes to the RBD trash when the
// namespace is deleted only if the gateway created it (create_image kept true in the stored
// request only when the open created the image) and its trash_image flag is set.
bool ImageTrashedOnDelete(const namespace_add_req& r);
// Why deleting such a namespace without i_am_sure is refused (the reference's words).
std::string TrashConfirmationNeeded(const std::string& nqn, uint32_t nsid);
// Key form of a listener address: IPv6 in brackets, like the reference CLI sends it.
std::string KeyAddress(const std::string& traddr);
// The value of a keep-connected mark (keep-connected_<nqn>_<host>): the
// set_keep_host_connected_req for the host.
std::string KeepConnectedJson(const std::string& nqn, const std::string& host);
// The state key of a listener as a request gives it (any address form, numeric port).
std::string ListenerStateKey(const std::string& nqn, const std::string& host_name, const std::string& traddr,
                             uint32_t trsvcid);
// A listener of this gateway (`host_name`) as the listings report it: transport, address
// family, key-form address, numeric port, secure.
void FillListenerInfo(const ListenerSpec& l, const std::string& host_name, listener_info* o);
// The Target's listener for a request's address (unbracketed) and address family.
ListenerSpec MakeListenerSpec(const std::string& host_name, const std::string& traddr, uint32_t trsvcid,
                              int proto_adrfam);
// `base` with the limits the request sets.
QosLimits QosFromRequest(const namespace_set_qos_req& r, QosLimits base);
// The subsystem DH-HMAC-CHAP key rules (the reference's): with a subsystem key every host
// needs a key of its own and none may have a controller key (the subsystem key is then the
// controller key of each: bidirectional authentication, origin "subsystem_implicit"); a
// controller key needs a host key. kHostKeyMissing (ENOKEY) or kKeyConflict (EINVAL).
Status CheckSubsystemKeyRules(const add_host_req& r, const std::string& subsystem_key);
// Where a host's controller key comes from.
::DHCHAPControllerKeyOrigin ControllerKeyOrigin(const add_host_req& r, const std::string& subsystem_key);
// The Target's host entry for an add_host request (state JSON or RPC): NQN, DH-HMAC-CHAP
// keys, the subsystem's key as the controller key of a host with a key and no controller
// key of its own, the TLS PSK, all in clear (StateSecrets::Open first: keys still marked
// encrypted are refused). Messages never contain key bytes.
Result<HostEntry> HostEntryFromRequest(const add_host_req& r, const std::string& subsystem_key);

// Iterates the namespace_ keys of a state map (an ordered map: one contiguous range) while
// fn(key, value) returns true.
template <typename Fn>
void ForEachNamespaceKey(const StateMap& m, Fn&& fn) {
  static const std::string kPrefix = StateKeyPrefix(StateKeyKind::kNamespace);
  for (auto it = m.lower_bound(kPrefix); it != m.end() && StartsWith(it->first, kPrefix); ++it) {
    if (!fn(it->first, it->second)) return;
  }
}

}  // namespace nvmeof::api::internal
