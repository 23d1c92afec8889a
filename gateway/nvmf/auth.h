// One queue's DH-HMAC-CHAP authentication (NVMe Base 2.0 section 8.13), controller side: the
// transaction AUTH_Negotiate -> Challenge -> Reply -> Success1 [-> Success2], its failures
// (Failure1 sent to the host with a reason explanation, Failure2 received from it), and
// re-authentication (a new AUTH_Negotiate on an authenticated queue).
//
// The Connect handler creates a QueueAuth when the host has a DH-HMAC-CHAP key (required: the
// queue refuses every other command with Authentication Required until a transaction
// succeeds); the Authentication Send / Receive handlers (fabrics_cmds.cc) validate the
// command fields and hand the message bytes to Send() / Receive(). All methods run on the
// queue's reactor. The keys are looked up again at every AUTH_Negotiate (a changed key applies
// to the next transaction; connected queues stay). A protocol failure never fails the
// command: it moves the transaction to Failure1, which the next Authentication Receive
// returns. A failed transaction leaves the queue unauthenticated (also after a failed
// re-authentication). Failures are logged with subsystem and host NQN, never with a key.
// Overdue() tells the Connect handler's timer (TargetOptions::auth_timeout_ms) that a queue
// which must authenticate has gone too long without: it then closes the queue. A stalled
// re-authentication on an authenticated queue only holds its own transaction: the queue
// keeps working until a failure takes its authentication away.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway/nvmf/auth_keys.h"
#include "gateway/nvmf/subsystem.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof {

// What the controller accepts, most preferred first (wire identifiers, nvme_auth.h).
struct AuthPolicy {
  std::vector<uint8_t> hashes;
  std::vector<uint8_t> dhgroups;
};

class QueueAuth {
 public:
  // The host's current entry (its keys), or nullopt if it is no longer allowed.
  using KeyLookup = std::function<std::optional<HostEntry>()>;

  QueueAuth(std::string subnqn, std::string hostnqn, uint16_t cntlid, uint16_t qid, bool required, AuthPolicy policy,
            KeyLookup keys);
  ~QueueAuth();
  QueueAuth(const QueueAuth&) = delete;
  QueueAuth& operator=(const QueueAuth&) = delete;

  // Whether commands other than Connect and Authentication Send / Receive may run.
  bool allowed() const { return !required_ || authenticated_; }
  bool authenticated() const { return authenticated_; }
  // A queue that must authenticate has been without authentication for more than bound_ns
  // (since its creation or since a failure ended its authentication).
  bool Overdue(uint64_t now_ns, uint64_t bound_ns) const {
    return !allowed() && now_ns - unauthenticated_since_ns_ > bound_ns;
  }
  // "subsystem NQN host NQN (controller N, queue N)" for log lines.
  std::string Who() const;

  // Authentication Send: one host message (the command's whole transfer).
  void Send(const uint8_t* data, size_t len);
  // Authentication Receive: writes the controller's next message into out (al bytes of room),
  // sets *written. Invalid Field if the message does not fit in al (nothing changes; the host
  // may ask again with more room); Internal Error if the random generator or DH fails.
  nvme::Status Receive(uint8_t* out, uint32_t al, uint32_t* written);

 private:
  enum class Step {
    kNegotiate,  // waiting for AUTH_Negotiate
    kChallenge,  // negotiated: the next Receive returns the Challenge
    kReply,      // waiting for the Reply
    kSuccess1,   // host verified: the next Receive returns Success1
    kSuccess2,   // waiting for Success2 (bidirectional)
    kFailure1,   // the next Receive returns Failure1
    kDone,       // transaction over (success or failure)
  };

  void Negotiate(const uint8_t* data, size_t len);
  void Reply(const uint8_t* data, size_t len);
  void Fail(uint8_t explanation, const char* why);
  void Succeed();
  void Clear();  // forgets the transaction's secrets
  void Unauthenticate();

  const std::string subnqn_;
  const std::string hostnqn_;
  const uint16_t cntlid_;
  const uint16_t qid_;
  const bool required_;
  const AuthPolicy policy_;
  const KeyLookup keys_;

  bool authenticated_ = false;
  uint64_t unauthenticated_since_ns_;
  Step step_ = Step::kNegotiate;
  uint8_t failure_ = 0;  // explanation for Failure1
  // The transaction.
  uint16_t t_id_ = 0;
  uint8_t sc_c_ = 0;
  uint8_t hash_ = 0;
  uint8_t dhgroup_ = 0;
  uint32_t s1_ = 0;
  auth::Bytes host_key_;  // Kh'
  std::optional<auth::Bytes> ctrl_key_;  // Kc'
  auth::Bytes c1_;
  auth::DhKeyPair dh_;
  auth::Bytes session_key_;
  bool bidirectional_ = false;
  auth::Bytes r2_;
};

}  // namespace nvmeof
