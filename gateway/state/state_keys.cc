// The group state's keys and values: see state_keys.h.
#include "gateway/state/state_keys.h"

#include <cstdio>

#include "gateway/common/strings.h"

#include <nlohmann/json.hpp>

namespace nvmeof {

using json = nlohmann::json;

namespace {

constexpr char kTcp[] = "TCP";
// The newer reference spelling of namespace host keys, read like ns_host_.
constexpr char kNamespaceHostAltPrefix[] = "ns-host_";

bool HasSuffix(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// s starts with prefix: *rest = the remainder.
bool StripPrefix(const std::string& s, const char* prefix, std::string* rest) {
  if (!StartsWith(s, prefix)) return false;
  *rest = s.substr(std::char_traits<char>::length(prefix));
  return true;
}

// Splits "a_b" at the first '_' into a (non-empty) and b.
bool SplitFirst(const std::string& s, std::string* head, std::string* tail) {
  size_t p = s.find('_');
  if (p == std::string::npos || p == 0) return false;
  *head = s.substr(0, p);
  *tail = s.substr(p + 1);
  return true;
}

// Splits "a_b" at the last '_' into a and b (b non-empty).
bool SplitLast(const std::string& s, std::string* head, std::string* tail) {
  size_t p = s.rfind('_');
  if (p == std::string::npos || p + 1 == s.size()) return false;
  *head = s.substr(0, p);
  *tail = s.substr(p + 1);
  return true;
}

bool ParseDecimal(const std::string& s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

bool ParseNsid(const std::string& s, uint32_t* nsid) {
  uint64_t v;
  if (!ParseDecimal(s, 0xFFFFFFFEull, &v) || v == 0) return false;
  *nsid = static_cast<uint32_t>(v);
  return true;
}

// "<trtype>_<traddr>_<trsvcid>": the end of a listener key.
std::string ListenerAddressPart(const std::string& trtype, const std::string& traddr, const std::string& trsvcid) {
  return trtype + "_" + traddr + "_" + trsvcid;
}

// "listener_<nqn>_[<host_name>_]<trtype>_<traddr>_<trsvcid>" (kind kListener), or the
// same under "auto-listener_" (kAutoListener).
std::string AnyListenerKey(StateKeyKind kind, const std::string& nqn, const std::string& host_name,
                           const std::string& trtype, const std::string& traddr, const std::string& trsvcid) {
  return StateKeyPrefix(kind, nqn) + (host_name.empty() ? "" : host_name + "_") +
         ListenerAddressPart(trtype, traddr, trsvcid);
}

json ParseObject(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return json();  // null
  return j;
}

// Checks/fills one identity field. `want` is a string or an unsigned number.
bool FixField(json& j, const char* field, const json& want, std::string* why) {
  auto it = j.find(field);
  bool absent = it == j.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty()) ||
                (it->is_number() && it->get<double>() == 0);
  if (absent) {
    j[field] = want;
    return true;
  }
  bool equal;
  if (want.is_number()) {
    // protobuf JSON may spell numbers as strings
    equal = (it->is_number_unsigned() || it->is_number_integer()) ? it->get<uint64_t>() == want.get<uint64_t>()
            : it->is_string()                                     ? it->get<std::string>() == std::to_string(want.get<uint64_t>())
                                                                  : false;
  } else {
    equal = it->is_string() && it->get<std::string>() == want.get<std::string>();
  }
  if (!equal) *why = std::string(field) + " is " + it->dump() + " but the key says " + want.dump();
  return equal;
}

}  // namespace

// ------------------------------------------------------------------ object

std::string StateObjectName(const std::string& group) {
  return group.empty() ? std::string("nvmeof.state") : "nvmeof." + group + ".state";
}

bool StateKeyElementHasSeparator(std::string_view s) { return s.find('_') != std::string_view::npos; }
bool StateKeyElementValid(std::string_view s) { return !s.empty() && !StateKeyElementHasSeparator(s); }

// ------------------------------------------------------------------ keys

const char* StateKeyKindName(StateKeyKind kind) {
  switch (kind) {
    case StateKeyKind::kSubsystem: return "subsystem";
    case StateKeyKind::kNamespace: return "namespace";
    case StateKeyKind::kHost: return "host";
    case StateKeyKind::kQos: return "qos";
    case StateKeyKind::kNamespaceHost: return "namespace host";
    case StateKeyKind::kRefreshSize: return "namespace refresh size";
    case StateKeyKind::kListener: return "listener";
    case StateKeyKind::kAutoListener: return "auto-listener";
    case StateKeyKind::kKeepConnected: return "keep-connected host";
  }
  return "?";
}

const char* StateKeyPrefix(StateKeyKind kind) {
  switch (kind) {
    case StateKeyKind::kSubsystem: return "subsystem_";
    case StateKeyKind::kNamespace: return "namespace_";
    case StateKeyKind::kHost: return "host_";
    case StateKeyKind::kQos: return "qos_";
    case StateKeyKind::kNamespaceHost: return "ns_host_";
    case StateKeyKind::kRefreshSize: return "ns-refresh-size_";
    case StateKeyKind::kListener: return "listener_";
    case StateKeyKind::kAutoListener: return "auto-listener_";
    case StateKeyKind::kKeepConnected: return "keep-connected_";
  }
  return "";
}

std::string StateKeyPrefix(StateKeyKind kind, const std::string& nqn) {
  return StateKeyPrefix(kind) + nqn + "_";
}

std::string SubsystemKey(const std::string& nqn) { return StateKeyPrefix(StateKeyKind::kSubsystem) + nqn; }

std::string NamespaceKey(const std::string& nqn, uint32_t nsid) {
  return StateKeyPrefix(StateKeyKind::kNamespace, nqn) + std::to_string(nsid);
}

std::string LbHandoverKey(const std::string& nqn, uint32_t nsid) {
  return kLbHandoverPrefix + nqn + "_" + std::to_string(nsid);
}

std::string LbHandoverJson(const LbHandover& h) {
  json j = {{"subsystem_nqn", h.nqn}, {"nsid", h.nsid}, {"from", h.from}, {"to", h.to}};
  return IndentStateJson(j.dump());
}

std::optional<LbHandover> ParseLbHandover(const std::string& key, const std::string& value) {
  if (!StartsWith(key, kLbHandoverPrefix)) return std::nullopt;
  json j = json::parse(value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  LbHandover h;
  try {
    h.nqn = j.at("subsystem_nqn").get<std::string>();
    h.nsid = j.at("nsid").get<uint32_t>();
    h.from = j.at("from").get<uint32_t>();
    h.to = j.at("to").get<uint32_t>();
  } catch (const json::exception&) {
    return std::nullopt;
  }
  if (key != LbHandoverKey(h.nqn, h.nsid) || h.nsid == 0) return std::nullopt;
  return h;
}

std::string QosKey(const std::string& nqn, uint32_t nsid) {
  return StateKeyPrefix(StateKeyKind::kQos, nqn) + std::to_string(nsid);
}

std::string NamespaceRefreshSizeKey(const std::string& nqn, uint32_t nsid) {
  return StateKeyPrefix(StateKeyKind::kRefreshSize, nqn) + std::to_string(nsid);
}

std::string RefreshSizeValue(int64_t unix_micros) {
  if (unix_micros < 0) unix_micros = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(unix_micros / 1000000),
                static_cast<long long>(unix_micros % 1000000));
  return buf;
}

std::string NamespaceHostKey(const std::string& nqn, uint32_t nsid, const std::string& host) {
  return StateKeyPrefix(StateKeyKind::kNamespaceHost, nqn) + std::to_string(nsid) + "_" + host;
}

std::string HostKey(const std::string& nqn, const std::string& host) {
  return StateKeyPrefix(StateKeyKind::kHost, nqn) + host;
}

std::string ListenerKey(const std::string& nqn, const std::string& host_name, const std::string& traddr,
                        const std::string& trsvcid) {
  return AnyListenerKey(StateKeyKind::kListener, nqn, host_name, kTcp, traddr, trsvcid);
}

std::string AutoListenerKey(const std::string& nqn, const std::string& gateway_name, const std::string& traddr,
                            const std::string& trsvcid) {
  return AnyListenerKey(StateKeyKind::kAutoListener, nqn, gateway_name, kTcp, traddr, trsvcid);
}

std::string KeepConnectedKey(const std::string& nqn, const std::string& host) {
  return StateKeyPrefix(StateKeyKind::kKeepConnected, nqn) + host;
}

std::optional<StateKey> ParseStateKey(const std::string& key) {
  StateKey k;
  std::string rest, tail;
  if (StripPrefix(key, StateKeyPrefix(StateKeyKind::kSubsystem), &rest)) {
    if (!StateKeyElementValid(rest)) return std::nullopt;
    k.kind = StateKeyKind::kSubsystem;
    k.nqn = rest;
    return k;
  }
  if (StripPrefix(key, StateKeyPrefix(StateKeyKind::kNamespace), &rest) ||
      StripPrefix(key, StateKeyPrefix(StateKeyKind::kQos), &rest) ||
      StripPrefix(key, StateKeyPrefix(StateKeyKind::kRefreshSize), &rest)) {
    k.kind = key[0] == 'q'   ? StateKeyKind::kQos
             : key[1] == 'a' ? StateKeyKind::kNamespace
                             : StateKeyKind::kRefreshSize;
    if (!SplitFirst(rest, &k.nqn, &tail) || !ParseNsid(tail, &k.nsid)) return std::nullopt;
    return k;
  }
  if (StripPrefix(key, StateKeyPrefix(StateKeyKind::kNamespaceHost), &rest) ||
      StripPrefix(key, kNamespaceHostAltPrefix, &rest)) {
    k.kind = StateKeyKind::kNamespaceHost;
    std::string nsid;
    if (!SplitFirst(rest, &k.nqn, &tail) || !SplitFirst(tail, &nsid, &k.host) || !ParseNsid(nsid, &k.nsid) ||
        k.host.empty())
      return std::nullopt;
    return k;
  }
  if (StripPrefix(key, StateKeyPrefix(StateKeyKind::kHost), &rest) ||
      StripPrefix(key, StateKeyPrefix(StateKeyKind::kKeepConnected), &rest)) {
    k.kind = key[0] == 'h' ? StateKeyKind::kHost : StateKeyKind::kKeepConnected;
    if (!SplitFirst(rest, &k.nqn, &k.host) || k.host.empty()) return std::nullopt;
    return k;
  }
  if (StripPrefix(key, StateKeyPrefix(StateKeyKind::kListener), &rest) ||
      StripPrefix(key, StateKeyPrefix(StateKeyKind::kAutoListener), &rest)) {
    k.kind = key[0] == 'l' ? StateKeyKind::kListener : StateKeyKind::kAutoListener;
    // <nqn>_[<host_name>_]<trtype>_<traddr>_<trsvcid>, host_name may contain '_'.
    std::string head, head2;
    uint64_t port;
    if (!SplitFirst(rest, &k.nqn, &tail) || !SplitLast(tail, &head, &k.trsvcid) ||
        !ParseDecimal(k.trsvcid, 65535, &port) || !SplitLast(head, &head2, &k.traddr) || head2.empty())
      return std::nullopt;
    if (!SplitLast(head2, &k.host, &k.trtype)) {
      if (k.kind == StateKeyKind::kAutoListener) return std::nullopt;  // names its gateway
      k.host.clear();
      k.trtype = head2;  // no host_name part
    } else if (k.host.empty()) {
      return std::nullopt;
    }
    if (k.trtype.empty() || k.traddr.empty()) return std::nullopt;
    return k;
  }
  return std::nullopt;
}

std::string StateKeyString(const StateKey& k) {
  switch (k.kind) {
    case StateKeyKind::kSubsystem: return SubsystemKey(k.nqn);
    case StateKeyKind::kNamespace: return NamespaceKey(k.nqn, k.nsid);
    case StateKeyKind::kQos: return QosKey(k.nqn, k.nsid);
    case StateKeyKind::kNamespaceHost: return NamespaceHostKey(k.nqn, k.nsid, k.host);
    case StateKeyKind::kRefreshSize: return NamespaceRefreshSizeKey(k.nqn, k.nsid);
    case StateKeyKind::kHost: return HostKey(k.nqn, k.host);
    case StateKeyKind::kListener:
    case StateKeyKind::kAutoListener: return AnyListenerKey(k.kind, k.nqn, k.host, k.trtype, k.traddr, k.trsvcid);
    case StateKeyKind::kKeepConnected: return KeepConnectedKey(k.nqn, k.host);
  }
  return {};
}

std::vector<std::string> SubsystemItemKeys(const StateMap& m, const std::string& nqn) {
  const std::string key = SubsystemKey(nqn);
  const std::string prefixes[] = {
      StateKeyPrefix(StateKeyKind::kNamespace, nqn), StateKeyPrefix(StateKeyKind::kQos, nqn),
      StateKeyPrefix(StateKeyKind::kNamespaceHost, nqn), kNamespaceHostAltPrefix + nqn + "_",
      StateKeyPrefix(StateKeyKind::kRefreshSize, nqn), StateKeyPrefix(StateKeyKind::kHost, nqn),
      StateKeyPrefix(StateKeyKind::kListener, nqn), StateKeyPrefix(StateKeyKind::kAutoListener, nqn),
      StateKeyPrefix(StateKeyKind::kKeepConnected, nqn)};
  std::vector<std::string> v;
  for (const auto& [k, val] : m) {
    if (k == key) {
      v.push_back(k);
      continue;
    }
    for (const auto& p : prefixes)
      if (StartsWith(k, p)) {
        v.push_back(k);
        break;
      }
  }
  return v;
}

std::vector<std::string> NamespaceItemKeys(const StateMap& m, const std::string& nqn, uint32_t nsid) {
  const std::string ns = NamespaceKey(nqn, nsid), qos = QosKey(nqn, nsid);
  const std::string hosts = NamespaceHostKey(nqn, nsid, "");
  const std::string alt_hosts = kNamespaceHostAltPrefix + nqn + "_" + std::to_string(nsid) + "_";
  const std::string refresh = NamespaceRefreshSizeKey(nqn, nsid);
  std::vector<std::string> v;
  for (const auto& [k, val] : m)
    if (k == ns || k == qos || k == refresh || StartsWith(k, hosts) || StartsWith(k, alt_hosts)) v.push_back(k);
  return v;
}

std::vector<std::string> ListenerKeysAt(const StateMap& m, const std::string& nqn, const std::string& traddr,
                                        const std::string& trsvcid) {
  const std::string p = StateKeyPrefix(StateKeyKind::kListener, nqn);
  const std::string tail = "_" + ListenerAddressPart(kTcp, traddr, trsvcid);
  std::vector<std::string> v;
  for (auto it = m.lower_bound(p); it != m.end() && StartsWith(it->first, p); ++it)
    if (it->first.size() > tail.size() && HasSuffix(it->first, tail)) v.push_back(it->first);
  return v;
}

// ------------------------------------------------------------------ values

std::string KeepUnknownStateFields(const std::string& stored, const std::string& rendered,
                                   const std::function<bool(const std::string& name)>& known) {
  json old = json::parse(stored, nullptr, false);
  if (old.is_discarded() || !old.is_object()) return rendered;
  size_t end = rendered.find_last_not_of(" \t\r\n");
  if (end == std::string::npos || rendered[end] != '}' || rendered.find('{') == std::string::npos) return rendered;
  std::string extra;
  for (auto it = old.begin(); it != old.end(); ++it) {
    if (known(it.key())) continue;
    extra += json(it.key()).dump() + ":" + it.value().dump();
    extra += ',';
  }
  if (extra.empty()) return rendered;
  extra.pop_back();
  const bool empty_object = rendered.find_first_not_of(" \t\r\n", rendered.find('{') + 1) == end;
  return rendered.substr(0, end) + (empty_object ? "" : ",") + extra + rendered.substr(end);
}

std::string IndentStateJson(const std::string& in) {
  std::string out;
  int depth = 0;
  bool in_str = false;
  auto newline = [&](int d) {
    out += '\n';
    out.append(static_cast<size_t>(2 * d), ' ');
  };
  for (size_t i = 0; i < in.size(); i++) {
    char c = in[i];
    if (in_str) {
      out += c;
      if (c == '\\' && i + 1 < in.size()) out += in[++i];
      else if (c == '"') in_str = false;
      continue;
    }
    switch (c) {
      case '"': in_str = true; out += c; break;
      case '{':
      case '[':
        out += c;
        if (i + 1 < in.size() && (in[i + 1] == '}' || in[i + 1] == ']')) {
          out += in[++i];
        } else {
          newline(++depth);
        }
        break;
      case '}':
      case ']': newline(--depth); out += c; break;
      case ',': out += c; newline(depth); break;
      case ':': out += ": "; break;
      default: out += c;
    }
  }
  return out;
}

Status NormalizeStateJson(const StateKey& k, const std::string& key_string, const std::string& in,
                          std::string* out) {
  if (k.kind == StateKeyKind::kRefreshSize) {  // a time, not a request: nothing to check
    *out = in;
    return Status::OK();
  }
  json j = ParseObject(in);
  if (j.is_null()) return Status::Error(state::errc::kBadValue, "value of state key " + key_string + " is not a JSON object");
  std::string why;
  bool ok = true;
  const bool listener = k.kind == StateKeyKind::kListener || k.kind == StateKeyKind::kAutoListener;
  const char* nqn_field = listener ? "nqn" : "subsystem_nqn";
  ok = ok && FixField(j, nqn_field, k.nqn, &why);
  if (k.kind == StateKeyKind::kNamespace || k.kind == StateKeyKind::kQos || k.kind == StateKeyKind::kNamespaceHost)
    ok = ok && FixField(j, "nsid", k.nsid, &why);
  if (k.kind == StateKeyKind::kHost || k.kind == StateKeyKind::kNamespaceHost || k.kind == StateKeyKind::kKeepConnected)
    ok = ok && FixField(j, "host_nqn", k.host, &why);
  if (listener) {
    if (!k.host.empty()) ok = ok && FixField(j, "host_name", k.host, &why);
    ok = ok && FixField(j, "traddr", k.traddr, &why);
    ok = ok && FixField(j, "trsvcid", static_cast<uint64_t>(std::stoul(k.trsvcid)), &why);
  }
  if (!ok) return Status::Error(state::errc::kBadValue, "value of state key " + key_string + " contradicts the key: " + why);
  *out = j.dump();
  return Status::OK();
}

std::string ListenerRemoveJson(const StateKey& k, const std::string& key_string, const std::string& stored) {
  std::string out;
  if (NormalizeStateJson(k, key_string, stored, &out).ok()) return out;
  json j = {{"nqn", k.nqn}, {"host_name", k.host}, {"traddr", k.traddr},
            {"trsvcid", static_cast<uint64_t>(std::stoul(k.trsvcid))}};
  return j.dump();
}

std::optional<bool> SameJsonObject(const std::string& a, const std::string& b, const std::set<std::string>& ignoring) {
  json ja = ParseObject(a), jb = ParseObject(b);
  if (ja.is_null() || jb.is_null()) return std::nullopt;
  for (const auto& f : ignoring) {
    ja.erase(f);
    jb.erase(f);
  }
  return ja == jb;
}

}  // namespace nvmeof
