// The spelling of the group state, in one place: the omap keys (built and parsed) and the
// rules for the JSON values stored under them. The layout is the reference gateway's
// (ceph-nvmeof control/state.py); state_store.h describes the object that holds it.
//
//   subsystem_<nqn>
//   namespace_<nqn>_<nsid>
//   qos_<nqn>_<nsid>
//   ns_host_<nqn>_<nsid>_<hostnqn>                     (read also as ns-host_..., newer spelling)
//   host_<nqn>_<hostnqn>                               (hostnqn "*": any host)
//   listener_<nqn>_<host_name>_TCP_<traddr>_<trsvcid>  (IPv6 traddr in brackets, as sent by the CLI)
//   ns-refresh-size_<nqn>_<nsid>                       (value: seconds since the epoch, not JSON)
//
// and two kinds of this gateway's own, which the reference's state reader ignores (it
// follows only the prefixes above):
//
//   auto-listener_<nqn>_<gateway_name>_TCP_<traddr>_<trsvcid>  an auto-listener (subsystem
//       network mask) the gateway <gateway_name> has open; value: create_listener_req
//       (nqn, host_name = <gateway_name>, traddr, trsvcid, adrfam, secure). Written and
//       removed by that gateway only.
//   keep-connected_<nqn>_<hostnqn>  the host's removal keeps its connections
//       (set_keep_host_connected, remove_host keep_connections); value:
//       set_keep_host_connected_req (subsystem_nqn, host_nqn). Removed when the host is
//       added again or the subsystem is deleted.
//
// Each value (but ns-refresh-size_'s) is the JSON of the request message that created the item (proto field names,
// fields without presence always present), laid out like Python's json.dumps(indent=2).
// Elements are joined with '_', so an NQN, host NQN or port never contains one
// (StateKeyElementValid); a listener's host_name may (the parser splits it from the right).
//
// Pure functions without state: any thread. Errors come back as values (nullopt for a key
// that is not one of ours, InvalidArgument for JSON that contradicts its key).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/state/state_store.h"

namespace nvmeof {

// ------------------------------------------------------------------ object

// The omap key that holds the version (decimal) next to the items; never an item.
inline constexpr char kOmapVersionKey[] = "omap_version";
// "nvmeof.state" (empty group) or "nvmeof.<group>.state".
std::string StateObjectName(const std::string& group);
// Key elements (NQN, host NQN, gateway host name, address, port) are joined with '_' (the
// reference's spelling, e.g. "host_<subnqn>_<hostnqn>"), so an element must not contain it.
bool StateKeyElementHasSeparator(std::string_view s);
// An element the key helpers can join and the parser can split again: non-empty and
// without the separator.
bool StateKeyElementValid(std::string_view s);

// ------------------------------------------------------------------ keys

// The kinds of items, in addition order (parents first). kRefreshSize is the newer reference's
// "refresh the size of this namespace from its image" mark, written when a namespace without
// auto-resize is resized (its value, a time, changes on every resize).
// kAutoListener and kKeepConnected are this gateway's own kinds (above).
enum class StateKeyKind {
  kSubsystem, kNamespace, kHost, kQos, kNamespaceHost, kRefreshSize, kListener, kAutoListener, kKeepConnected
};
const char* StateKeyKindName(StateKeyKind kind);

// One parsed omap key.
struct StateKey {
  StateKeyKind kind = StateKeyKind::kSubsystem;
  std::string nqn;      // subsystem NQN (every kind)
  uint32_t nsid = 0;    // kNamespace, kQos, kNamespaceHost
  std::string host;     // kHost, kNamespaceHost, kKeepConnected: host NQN ("*" = any host);
                        // kListener: gateway host_name; kAutoListener: gateway name
  std::string trtype;   // kListener, kAutoListener ("TCP")
  std::string traddr;   // kListener, kAutoListener
  std::string trsvcid;  // kListener, kAutoListener (decimal port)
  bool operator==(const StateKey&) const = default;
};

// Builders, the reference's spelling. Arguments are used as given (ListenerKey's traddr in
// its key form: IPv6 in brackets).
std::string SubsystemKey(const std::string& nqn);
std::string NamespaceKey(const std::string& nqn, uint32_t nsid);
std::string QosKey(const std::string& nqn, uint32_t nsid);
std::string NamespaceHostKey(const std::string& nqn, uint32_t nsid, const std::string& host);
std::string HostKey(const std::string& nqn, const std::string& host);
std::string NamespaceRefreshSizeKey(const std::string& nqn, uint32_t nsid);
// The value of a refresh-size key as the reference writes it (Python's str(time.time()):
// seconds since the epoch with a fraction), for `unix_micros` microseconds since the epoch.
std::string RefreshSizeValue(int64_t unix_micros);
std::string ListenerKey(const std::string& nqn, const std::string& host_name, const std::string& traddr,
                        const std::string& trsvcid);
std::string AutoListenerKey(const std::string& nqn, const std::string& gateway_name, const std::string& traddr,
                            const std::string& trsvcid);
std::string KeepConnectedKey(const std::string& nqn, const std::string& host);

// Parses an omap key. nullopt for omap_version, unknown prefixes (lbgroup_, key-host_, ...:
// the reference builds these only in memory while it applies a change, they are not in its
// object; kept untouched when found) and malformed keys. NQNs never contain '_': the NQN
// ends at the first '_' after the prefix. A listener key is split from the right (port,
// address, transport type), so its host_name may contain '_', and may be absent. NSIDs are
// decimal, 1..4294967294, without sign or leading zeros; ports 0..65535.
std::optional<StateKey> ParseStateKey(const std::string& key);
// The key in the canonical spelling (ParseStateKey's inverse; ns-host_ comes back as ns_host_).
std::string StateKeyString(const StateKey& key);

// "subsystem_", "namespace_", ...: every key of `kind` starts with it.
const char* StateKeyPrefix(StateKeyKind kind);
// "namespace_<nqn>_", "listener_<nqn>_", ...: every key of `kind` below subsystem `nqn`
// starts with it. Not for kSubsystem (one NQN may begin another: compare with SubsystemKey).
std::string StateKeyPrefix(StateKeyKind kind, const std::string& nqn);

// Selections of a state map's keys, in map order.
// The subsystem's key and the keys of everything below it.
std::vector<std::string> SubsystemItemKeys(const StateMap& m, const std::string& nqn);
// The namespace's key, its QoS key, its namespace host keys (either spelling) and its
// refresh-size key.
std::vector<std::string> NamespaceItemKeys(const StateMap& m, const std::string& nqn, uint32_t nsid);
// The TCP listener keys of subsystem `nqn` at traddr:trsvcid, whichever gateway's.
std::vector<std::string> ListenerKeysAt(const StateMap& m, const std::string& nqn, const std::string& traddr,
                                        const std::string& trsvcid);

// ------------------------------------------------------------------ load balancing

// A namespace's hand-over from one ANA group to another in progress (docs/ha.md, "Load
// balancing"): key lb_handover_<nqn>_<nsid>, value {"subsystem_nqn", "nsid", "from", "to"}.
// This gateway's own key, unknown to the reference (ParseStateKey does not parse it, so the
// applier ignores it); removed by the old group's owner once it drained the namespace.
struct LbHandover {
  std::string nqn;
  uint32_t nsid = 0;
  uint32_t from = 0, to = 0;
};
inline constexpr char kLbHandoverPrefix[] = "lb_handover_";
std::string LbHandoverKey(const std::string& nqn, uint32_t nsid);
std::string LbHandoverJson(const LbHandover& h);
// nullopt when the key is not a hand-over key or the value does not parse.
std::optional<LbHandover> ParseLbHandover(const std::string& key, const std::string& value);

// ------------------------------------------------------------------ values

// Compact JSON laid out like Python's json.dumps(indent=2), which the reference's
// MessageToJson produces: "{\n  \"key\": value,\n ...}", empty containers as {} and [].
// The input is not checked; strings are copied unchanged.
std::string IndentStateJson(const std::string& compact);

// `rendered` (the compact JSON object this gateway writes for a changed item) followed by
// the members of `stored` (the value it replaces) whose names `known` does not know: fields
// a newer reference gateway wrote are kept when this one rewrites the value. `rendered`
// unchanged when either is not a JSON object.
std::string KeepUnknownStateFields(const std::string& stored, const std::string& rendered,
                                   const std::function<bool(const std::string& name)>& known);

// Makes the identity fields of a stored value agree with its key: subsystem_nqn (nqn for
// listeners), nsid, host_nqn, host_name, traddr and trsvcid are filled in from the key when
// absent or empty/zero; numbers may be spelled as strings. Out: compact JSON (a refresh-size
// value, which is not JSON, comes out unchanged).
// InvalidArgument when the value is not a JSON object or a field contradicts the key.
Status NormalizeStateJson(const StateKey& key, const std::string& key_string, const std::string& in,
                          std::string* out);
// The JSON that identifies a listener for removal: the stored value normalised, or, when
// that fails, one built from the key (nqn, host_name, traddr, trsvcid).
std::string ListenerRemoveJson(const StateKey& key, const std::string& key_string, const std::string& stored);

// Whether two values are the same JSON object once the fields in `ignoring` are left out
// (whitespace and field order do not count). nullopt when either is not a JSON object.
std::optional<bool> SameJsonObject(const std::string& a, const std::string& b,
                                   const std::set<std::string>& ignoring = {});

}  // namespace nvmeof
