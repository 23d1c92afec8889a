// NVMe in-band authentication on the wire (NVMe Base 2.0 section 8.13, DH-HMAC-CHAP; NVMe-oF
// Authentication Send / Authentication Receive, fctype 05h / 06h): the two commands' SQE
// layouts, the fixed part of every authentication message as a packed structure, and pure
// encode / decode of whole messages. No I/O, no cryptography, no policy.
//
// Decoders take the bytes the host sent (exactly the command's transfer length) and return an
// AuthDecodeError: kOk, or the first thing wrong (too short, longer than the message's own
// lengths say, not the expected message, a field outside its range). A decoder never reads
// outside [data, data + len). Encoders produce exactly the message's length. Multi-byte
// fields are little-endian (the hosts and this gateway are little-endian, as elsewhere).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace nvmeof::nvme {

// ---------------------------------------------------------------- commands

// Security protocol and protocol-specific fields of both commands for DH-HMAC-CHAP.
inline constexpr uint8_t kAuthSecpNvme = 0xE9;  // SECP: NVMe in-band authentication
inline constexpr uint8_t kAuthSpsp0 = 0x01;     // SPSP0
inline constexpr uint8_t kAuthSpsp1 = 0x01;     // SPSP1

// Authentication Send (05h, TL = bytes the host sends) and Authentication Receive (06h,
// AL = bytes the host will accept) share one layout.
struct __attribute__((packed)) AuthCmd {
  uint8_t opcode;  // 0x7F
  uint8_t reserved1;
  uint16_t cid;
  uint8_t fctype;  // kFctypeAuthSend / kFctypeAuthReceive
  uint8_t reserved2[19];
  uint8_t sgl1[16];
  uint8_t reserved3;
  uint8_t spsp0;
  uint8_t spsp1;
  uint8_t secp;
  uint32_t length;  // TL (send) or AL (receive)
  uint8_t reserved4[16];
};
static_assert(sizeof(AuthCmd) == 64);
static_assert(offsetof(AuthCmd, spsp0) == 41);
static_assert(offsetof(AuthCmd, secp) == 43);
static_assert(offsetof(AuthCmd, length) == 44);

// Connect response dword 0 AUTHREQ bits (NVMe-oF Connect response; Linux
// NVME_CONNECT_AUTHREQ_*): ATR asks the host for an authentication transaction, ASCR for
// secure channel concatenation.
inline constexpr uint32_t kConnectAuthreqAtr = 1u << 17;
inline constexpr uint32_t kConnectAuthreqAscr = 1u << 18;

// ---------------------------------------------------------------- message identifiers

enum AuthType : uint8_t {
  kAuthTypeCommon = 0x00,  // AUTH_Negotiate, AUTH_Failure1, AUTH_Failure2
  kAuthTypeDhchap = 0x01,  // DH-HMAC-CHAP_Challenge .. _Success2
};

enum AuthId : uint8_t {
  kAuthIdNegotiate = 0x00,  // with kAuthTypeCommon
  kAuthIdChallenge = 0x01,
  kAuthIdReply = 0x02,
  kAuthIdSuccess1 = 0x03,
  kAuthIdSuccess2 = 0x04,
  kAuthIdFailure2 = 0xF0,  // host to controller, with kAuthTypeCommon
  kAuthIdFailure1 = 0xF1,  // controller to host, with kAuthTypeCommon
};

inline constexpr uint8_t kAuthProtocolDhchap = 0x01;  // AUTHID of the protocol descriptor

// Secure channel concatenation (SC_C of AUTH_Negotiate).
enum AuthScC : uint8_t {
  kScCNone = 0x00,
  kScCNewTlsPsk = 0x01,
  kScCReplaceTlsPsk = 0x02,
};

enum DhchapHash : uint8_t {
  kHashSha256 = 0x01,
  kHashSha384 = 0x02,
  kHashSha512 = 0x03,
};

enum DhchapDhGroup : uint8_t {
  kDhGroupNull = 0x00,
  kDhGroup2048 = 0x01,
  kDhGroup3072 = 0x02,
  kDhGroup4096 = 0x03,
  kDhGroup6144 = 0x04,
  kDhGroup8192 = 0x05,
};

// Failure messages: the reason code is always "authentication failure"; the explanation says why.
inline constexpr uint8_t kAuthReasonFailed = 0x01;
enum AuthFailureExplanation : uint8_t {
  kAuthExplFailed = 0x01,            // authentication failed (wrong response)
  kAuthExplNotUsable = 0x02,         // no usable authentication protocol
  kAuthExplConcatMismatch = 0x03,    // secure channel concatenation mismatch
  kAuthExplHashUnusable = 0x04,      // no hash function in common
  kAuthExplDhGroupUnusable = 0x05,   // no DH group in common
  kAuthExplIncorrectPayload = 0x06,  // a message field is wrong
  kAuthExplIncorrectMessage = 0x07,  // a message out of order
};

// ---------------------------------------------------------------- fixed message parts

struct __attribute__((packed)) AuthHeaderWire {
  uint8_t auth_type;
  uint8_t auth_id;
  uint16_t reserved;
  uint16_t t_id;
};
static_assert(sizeof(AuthHeaderWire) == 6);

struct __attribute__((packed)) DhchapProtocolDescriptorWire {
  uint8_t authid;  // kAuthProtocolDhchap
  uint8_t reserved;
  uint8_t halen;        // hash identifiers in idlist[0..29]
  uint8_t dhlen;        // DH group identifiers in idlist[30..59]
  uint8_t idlist[60];
};
static_assert(sizeof(DhchapProtocolDescriptorWire) == 64);
inline constexpr size_t kAuthMaxIds = 30;

struct __attribute__((packed)) NegotiateWire {
  AuthHeaderWire h;  // kAuthTypeCommon, kAuthIdNegotiate
  uint8_t sc_c;
  uint8_t napd;  // protocol descriptors that follow
};
static_assert(sizeof(NegotiateWire) == 8);

struct __attribute__((packed)) ChallengeWire {
  AuthHeaderWire h;
  uint8_t hl;  // hash length: C1 is hl bytes
  uint8_t reserved;
  uint8_t hashid;
  uint8_t dhgid;
  uint16_t dhvlen;  // DH value bytes after C1
  uint32_t seqnum;
};
static_assert(sizeof(ChallengeWire) == 16);

struct __attribute__((packed)) ReplyWire {
  AuthHeaderWire h;
  uint8_t hl;
  uint8_t reserved1;
  uint8_t cvalid;  // C2 is valid: the host asks the controller to authenticate
  uint8_t reserved2;
  uint16_t dhvlen;
  uint32_t seqnum;  // S2
  // then R1 (hl), C2 (hl), DH value (dhvlen)
};
static_assert(sizeof(ReplyWire) == 16);

struct __attribute__((packed)) Success1Wire {
  AuthHeaderWire h;
  uint8_t hl;
  uint8_t reserved1;
  uint8_t rvalid;  // R2 follows
  uint8_t reserved2[7];
  // then R2 (hl)
};
static_assert(sizeof(Success1Wire) == 16);

struct __attribute__((packed)) Success2Wire {
  AuthHeaderWire h;
  uint8_t reserved[10];
};
static_assert(sizeof(Success2Wire) == 16);

struct __attribute__((packed)) FailureWire {
  AuthHeaderWire h;
  uint8_t rescode;
  uint8_t rescode_exp;
};
static_assert(sizeof(FailureWire) == 8);

// Longest hash (SHA-512) and DH value (FFDHE8192) a message can carry.
inline constexpr size_t kAuthMaxHashLen = 64;
inline constexpr size_t kAuthMaxDhLen = 1024;

// ---------------------------------------------------------------- decoded messages

struct AuthNegotiate {
  uint16_t t_id = 0;
  uint8_t sc_c = kScCNone;
  // The DH-HMAC-CHAP descriptor (the only protocol defined): hashes and groups as listed.
  std::vector<uint8_t> hashes;
  std::vector<uint8_t> dhgroups;
};

struct AuthChallenge {
  uint16_t t_id = 0;
  uint8_t hashid = 0;
  uint8_t dhgid = 0;
  uint32_t seqnum = 0;
  std::vector<uint8_t> c1;   // hl bytes
  std::vector<uint8_t> dhv;  // controller's DH public value (empty for the NULL group)
};

struct AuthReply {
  uint16_t t_id = 0;
  bool cvalid = false;
  uint32_t seqnum = 0;       // S2
  std::vector<uint8_t> r1;   // hl bytes
  std::vector<uint8_t> c2;   // hl bytes (meaningful when cvalid)
  std::vector<uint8_t> dhv;  // host's DH public value
};

struct AuthSuccess1 {
  uint16_t t_id = 0;
  uint8_t hl = 0;
  bool rvalid = false;
  std::vector<uint8_t> r2;  // hl bytes when rvalid
};

struct AuthFailure {
  uint16_t t_id = 0;
  uint8_t rescode = kAuthReasonFailed;
  uint8_t explanation = 0;
};

enum class AuthDecodeError {
  kOk,
  kTruncated,      // shorter than the message's fixed part or its own lengths
  kOversized,      // bytes beyond what the message's own lengths describe
  kWrongMessage,   // AUTH-TYPE / AUTH-ID are not the message asked for
  kBadField,       // a field out of its range (NAPD, HALEN, DHLEN, HL, AUTHID, ...)
};
std::string_view AuthDecodeErrorName(AuthDecodeError e);

// The common header of any message (at least 6 bytes).
AuthDecodeError DecodeAuthHeader(const uint8_t* data, size_t len, AuthHeaderWire* out);

// Host to controller.
AuthDecodeError DecodeNegotiate(const uint8_t* data, size_t len, AuthNegotiate* out);
AuthDecodeError DecodeReply(const uint8_t* data, size_t len, AuthReply* out);
AuthDecodeError DecodeSuccess2(const uint8_t* data, size_t len, uint16_t* t_id);
AuthDecodeError DecodeFailure2(const uint8_t* data, size_t len, AuthFailure* out);
// Controller to host (for hosts and tests).
AuthDecodeError DecodeChallenge(const uint8_t* data, size_t len, AuthChallenge* out);
AuthDecodeError DecodeSuccess1(const uint8_t* data, size_t len, AuthSuccess1* out);
AuthDecodeError DecodeFailure1(const uint8_t* data, size_t len, AuthFailure* out);

// Encoders. Lengths beyond a field's width (more than 30 identifiers, a hash over 255 bytes,
// a DH value over 65535 bytes) are the caller's bug: they are truncated to the field.
std::vector<uint8_t> EncodeNegotiate(const AuthNegotiate& m);
std::vector<uint8_t> EncodeChallenge(const AuthChallenge& m);
std::vector<uint8_t> EncodeReply(const AuthReply& m);
std::vector<uint8_t> EncodeSuccess1(const AuthSuccess1& m);
std::vector<uint8_t> EncodeSuccess2(uint16_t t_id);
std::vector<uint8_t> EncodeFailure1(const AuthFailure& m);
std::vector<uint8_t> EncodeFailure2(const AuthFailure& m);

}  // namespace nvmeof::nvme
