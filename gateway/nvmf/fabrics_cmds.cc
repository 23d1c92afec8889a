// Fabrics commands: Connect, Property Get, Property Set, Disconnect (NVMe-oF 1.1 section 3),
// Authentication Send / Receive (DH-HMAC-CHAP, NVMe Base 2.0 section 8.13; the state: auth.h).
#include <algorithm>
#include <cstring>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/auth.h"
#include "gateway/nvmf/commands.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"
#include "gateway/nvmf/tls_psk.h"
#include "gateway/protocol/nvme_auth.h"

namespace nvmeof {

using namespace nvme;

namespace {

constexpr uint8_t kCattrDisableSqFlow = 1u << 2;

std::string FixedString(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

void ConnectError(QueuePair* qp, Request* req, bool in_data, uint16_t offset) {
  req->rsp.dw0 = ConnectInvalidParam(in_data, offset);
  CompleteWith(qp, req, CmdSpecific(kScConnectInvalidParameters));
}

// The queue's authentication state; `required`: the host has a DH-HMAC-CHAP key.
std::shared_ptr<QueueAuth> MakeAuth(Target& t, const std::string& subnqn, const std::string& hostnqn, uint16_t cntlid,
                                    uint16_t qid, bool required) {
  AuthPolicy policy{t.options().dhchap_hashes, t.options().dhchap_dhgroups};
  auto keys = [&t, subnqn, hostnqn]() -> std::optional<HostEntry> {
    auto s = t.FindSubsystem(subnqn);
    return s ? s->FindHost(hostnqn) : std::nullopt;
  };
  return std::make_shared<QueueAuth>(subnqn, hostnqn, cntlid, qid, required, std::move(policy), std::move(keys));
}

// Closes the queue if it has to authenticate and goes TargetOptions::auth_timeout_ms
// without (QueueAuth::Overdue): checked every quarter of the bound (at most every second)
// for the queue's lifetime, since a failed re-authentication restarts the clock.
void WatchAuth(Target& t, QueuePair* qp) {
  const uint32_t bound_ms = t.options().auth_timeout_ms;
  if (bound_ms == 0) return;
  std::weak_ptr<int> life = qp->life;
  std::weak_ptr<QueueAuth> watched = qp->auth;
  auto period = std::chrono::milliseconds(std::clamp<uint32_t>(bound_ms / 4, 10, 1000));
  qp->reactor().Every(period, [qp, life, watched, bound_ms] {
    if (life.expired()) return false;
    auto a = watched.lock();
    if (!a || qp->auth != a) return false;
    if (!a->Overdue(NowNs(), uint64_t{bound_ms} * 1000000)) return true;
    LOG_WARN("%s: not authenticated within %u ms: closing the queue", a->Who().c_str(), bound_ms);
    qp->Close("authentication timeout");
    return false;
  });
}

void Connect(Target& t, QueuePair* qp, Request* req) {
  const auto* cmd = reinterpret_cast<const ConnectCmd*>(&req->cmd);
  if (qp->connected()) return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  if (!req->data || req->length < sizeof(ConnectData))
    return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
  if (cmd->recfmt != 0) return CompleteWith(qp, req, CmdSpecific(kScConnectIncompatibleFormat));
  const auto* d = reinterpret_cast<const ConnectData*>(req->data);
  // NQNs are NUL-terminated and at most 223 bytes long.
  if (strnlen(d->subnqn, sizeof(d->subnqn)) > kNqnMaxLen) return ConnectError(qp, req, true, offsetof(ConnectData, subnqn));
  if (strnlen(d->hostnqn, sizeof(d->hostnqn)) > kNqnMaxLen)
    return ConnectError(qp, req, true, offsetof(ConnectData, hostnqn));
  std::string subnqn = FixedString(d->subnqn, sizeof(d->subnqn));
  std::string hostnqn = FixedString(d->hostnqn, sizeof(d->hostnqn));
  uint16_t qid = cmd->qid;
  uint32_t depth = static_cast<uint32_t>(cmd->sqsize) + 1;

  auto s = t.FindSubsystem(subnqn);
  if (!s || !s->OnPort(qp->port())) {
    LOG_WARN("connection from %s: host %s asked for unknown subsystem %s on %s:%s", qp->peer().c_str(),
             hostnqn.c_str(), subnqn.c_str(), qp->port().traddr.c_str(), qp->port().trsvcid.c_str());
    return ConnectError(qp, req, true, offsetof(ConnectData, subnqn));
  }
  if (hostnqn.empty()) return ConnectError(qp, req, true, offsetof(ConnectData, hostnqn));
  if (qp->port().secure) {
    // The TLS PSK authenticated a host for a subsystem: the queue is theirs only.
    auto id = tls::ParsePskIdentity(qp->tls_identity);
    if (!id.ok() || id->hostnqn != hostnqn || id->subnqn != subnqn) {
      LOG_WARN("subsystem %s: host %s from %s does not match its TLS PSK identity", subnqn.c_str(), hostnqn.c_str(),
               qp->peer().c_str());
      return CompleteWith(qp, req, CmdSpecific(kScConnectInvalidHost));
    }
  }
  if (!s->HostAllowed(hostnqn)) {
    LOG_WARN("subsystem %s: host %s from %s is not allowed", subnqn.c_str(), hostnqn.c_str(), qp->peer().c_str());
    return CompleteWith(qp, req, CmdSpecific(kScConnectInvalidHost));
  }
  if (cmd->sqsize == 0 || depth > t.options().max_queue_depth)
    return ConnectError(qp, req, false, offsetof(ConnectCmd, sqsize));
  bool sqflow_off = (cmd->cattr & kCattrDisableSqFlow) != 0;
  std::optional<HostEntry> host = s->FindHost(hostnqn);
  const bool need_auth = host && host->dhchap_key;

  if (qid == 0) {
    if (d->cntlid != 0xFFFF && d->cntlid != 0xFFFE)
      return ConnectError(qp, req, true, offsetof(ConnectData, cntlid));
    auto c = std::make_shared<Controller>(&t, s, hostnqn, d->hostid, cmd->kato, qp);
    auto id = s->AllocateCntlid(c);
    if (!id.ok()) {
      LOG_ERROR("subsystem %s host %s: %s", subnqn.c_str(), hostnqn.c_str(), id.status().message().c_str());
      return CompleteWith(qp, req, CmdSpecific(kScConnectControllerBusy, false));
    }
    c->set_cntlid(*id);
    qp->Bind(c, 0, cmd->sqsize, sqflow_off);
    t.QueueBound(qp);
    req->rsp.dw0 = *id;
    if (need_auth) {
      qp->auth = MakeAuth(t, subnqn, hostnqn, *id, 0, true);
      WatchAuth(t, qp);
      req->rsp.dw0 |= kConnectAuthreqAtr;
    }
    LOG_INFO("%s: controller created (admin queue from %s, keep alive %u ms%s)", c->Describe().c_str(),
             qp->peer().c_str(), cmd->kato, s->is_discovery() ? ", discovery" : "");
    c->StartKeepAliveTimer();
    t.probe().Count(t.probe().controllers_created);
    return CompleteWith(qp, req, kSuccess);
  }

  // I/O queue: joins an existing controller of the same host.
  auto c = s->FindController(d->cntlid);
  if (!c || s->is_discovery()) return ConnectError(qp, req, true, offsetof(ConnectData, cntlid));
  if (c->hostnqn() != hostnqn) return ConnectError(qp, req, true, offsetof(ConnectData, hostnqn));
  if (memcmp(c->hostid().data(), d->hostid, 16) != 0)
    return ConnectError(qp, req, true, offsetof(ConnectData, hostid));
  if (!c->enabled()) return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  switch (c->AddIoQueue(qp, qid)) {
    case Controller::AddQueueResult::kOk:
      break;
    case Controller::AddQueueResult::kInvalidQid:
      return ConnectError(qp, req, false, offsetof(ConnectCmd, qid));
    case Controller::AddQueueResult::kExists:
      // The queue already exists (NVMe-oF: Command Sequence Error, as Linux nvmet answers).
      return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  }
  qp->Bind(c, qid, cmd->sqsize, sqflow_off);
  t.QueueBound(qp);
  if (need_auth) {
    qp->auth = MakeAuth(t, subnqn, hostnqn, c->cntlid(), qid, true);
    WatchAuth(t, qp);
    req->rsp.dw0 = c->cntlid() | kConnectAuthreqAtr;
  }
  LOG_DEBUG("%s: I/O queue %u connected from %s (depth %u, reactor %d)", c->Describe().c_str(), qid,
            qp->peer().c_str(), depth, qp->reactor().index());
  CompleteWith(qp, req, kSuccess);
}

void PropertyGet(QueuePair* qp, Request* req) {
  const auto* cmd = reinterpret_cast<const PropertyCmd*>(&req->cmd);
  auto& c = qp->controller();
  if (!c || qp->qid() != 0) return CompleteWith(qp, req, Generic(kScInvalidOpcode));  // admin queue only
  bool eight = (cmd->attrib & 0x7) == 1;
  if ((cmd->attrib & 0x7) > 1) return CompleteWith(qp, req, Generic(kScInvalidField));
  uint64_t v;
  switch (cmd->offset) {
    case kPropCap:
      v = c->cap();
      break;
    case kPropVs:
      v = Version(1, 4);
      break;
    case kPropCc:
      v = c->cc();
      break;
    case kPropCsts:
      v = c->csts();
      break;
    default:
      return CompleteWith(qp, req, Generic(kScInvalidField));
  }
  if (eight != (cmd->offset == kPropCap)) {
    // CAP is 8 bytes wide, the others 4: a size that does not match is an invalid field.
    return CompleteWith(qp, req, Generic(kScInvalidField));
  }
  req->rsp.dw0 = static_cast<uint32_t>(v);
  req->rsp.dw1 = static_cast<uint32_t>(v >> 32);
  CompleteWith(qp, req, kSuccess);
}

void PropertySet(QueuePair* qp, Request* req) {
  const auto* cmd = reinterpret_cast<const PropertyCmd*>(&req->cmd);
  auto& c = qp->controller();
  if (!c || qp->qid() != 0) return CompleteWith(qp, req, Generic(kScInvalidOpcode));  // admin queue only
  if ((cmd->attrib & 0x7) != 0) return CompleteWith(qp, req, Generic(kScInvalidField));
  switch (cmd->offset) {
    case kPropCc:
      if (!c->SetCc(static_cast<uint32_t>(cmd->value))) return CompleteWith(qp, req, Generic(kScInvalidField));
      return CompleteWith(qp, req, kSuccess);
    case kPropNssr:
      return CompleteWith(qp, req, Generic(kScInvalidField));  // NSSR not supported (CAP.NSSRS = 0)
    default:
      // CAP, VS, CSTS are read-only; the rest do not exist on fabrics.
      return CompleteWith(qp, req, Generic(kScInvalidField));
  }
}

void Disconnect(QueuePair* qp, Request* req) {
  // Disconnect deletes an I/O queue; the admin queue goes with the association.
  if (qp->qid() == 0) return CompleteWith(qp, req, CmdSpecific(kScInvalidQueueType));
  if ((req->cmd.cdw10 & 0xFFFF) != 0) return CompleteWith(qp, req, CmdSpecific(kScConnectIncompatibleFormat));
  CompleteWith(qp, req, kSuccess);
  qp->Close("host disconnected the queue");  // posted: the completion goes out first
}

bool AuthFieldsOk(const AuthCmd* cmd) {
  return cmd->secp == kAuthSecpNvme && cmd->spsp0 == kAuthSpsp0 && cmd->spsp1 == kAuthSpsp1 && cmd->length != 0;
}

// A queue without a key may still authenticate (it gains nothing it did not have).
QueueAuth& AuthOf(Target& t, QueuePair* qp) {
  if (!qp->auth) {
    auto& c = qp->controller();
    qp->auth = MakeAuth(t, c->subsystem().nqn(), c->hostnqn(), c->cntlid(), qp->qid(), false);
  }
  return *qp->auth;
}

void AuthSend(Target& t, QueuePair* qp, Request* req) {
  const auto* cmd = reinterpret_cast<const AuthCmd*>(&req->cmd);
  if (!AuthFieldsOk(cmd)) return CompleteWith(qp, req, Generic(kScInvalidField));
  if (!req->data || req->length != cmd->length) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
  AuthOf(t, qp).Send(req->data, req->length);
  CompleteWith(qp, req, kSuccess);
}

void AuthReceive(Target& t, QueuePair* qp, Request* req) {
  const auto* cmd = reinterpret_cast<const AuthCmd*>(&req->cmd);
  if (!AuthFieldsOk(cmd)) return CompleteWith(qp, req, Generic(kScInvalidField));
  if (!req->data || req->length != cmd->length) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
  uint32_t n = 0;
  nvme::Status s = AuthOf(t, qp).Receive(req->data, req->length, &n);
  req->c2h_len = n;
  CompleteWith(qp, req, s);
}

}  // namespace

void ExecuteFabrics(Target& t, QueuePair* qp, Request* req) {
  uint8_t fctype = req->cmd.fctype();
  if (fctype != kFctypeConnect && !qp->connected())
    return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  // A queue that must authenticate runs nothing but the authentication commands until it has.
  if (qp->auth && !qp->auth->allowed() && fctype != kFctypeConnect && fctype != kFctypeAuthSend &&
      fctype != kFctypeAuthReceive)
    return CompleteWith(qp, req, CmdSpecific(kScAuthRequired));
  switch (fctype) {
    case kFctypeConnect:
      return Connect(t, qp, req);
    case kFctypePropertyGet:
      return PropertyGet(qp, req);
    case kFctypePropertySet:
      return PropertySet(qp, req);
    case kFctypeDisconnect:
      return Disconnect(qp, req);
    case kFctypeAuthSend:
      return AuthSend(t, qp, req);
    case kFctypeAuthReceive:
      return AuthReceive(t, qp, req);
    default:
      return CompleteWith(qp, req, Generic(kScInvalidOpcode));
  }
}

}  // namespace nvmeof
