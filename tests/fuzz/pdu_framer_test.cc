// Unit tests for the fuzzing framer and seed corpus (built in every configuration), plus a
// short deterministic mutation run of the fuzz entry point, so that gcc and sanitizer
// builds exercise it too.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gateway/protocol/nvme_tcp.h"
#include "tests/fuzz/fuzz_pdu_input.h"
#include "tests/fuzz/pdu_framer.h"

namespace nvmeof::fuzz {
namespace {

using namespace nvmeof::tcp;
using Bytes = std::vector<uint8_t>;

struct Framed {
  std::vector<uint8_t> types;
  std::vector<uint32_t> data_lens;
  int bad_data_digests = 0;
};

void Collect(void* ctx, const FramedPdu& pdu) {
  auto* r = static_cast<Framed*>(ctx);
  r->types.push_back(pdu.type);
  r->data_lens.push_back(pdu.data_len);
  if (!pdu.data_digest_ok) ++r->bad_data_digests;
}

std::map<std::string, Bytes> Seeds() {
  std::map<std::string, Bytes> m;
  for (auto& [name, bytes] : MakePduSeeds()) m[name] = bytes;
  return m;
}

// Runs a seed in one Feed() and byte by byte; both must agree.
Framed Frame(const Bytes& seed, PduFramer* out_state = nullptr) {
  const FramerOptions o = OptionsFromByte(seed.at(0));
  PduFramer whole(o);
  Framed r;
  whole.Feed(seed.data() + 1, seed.size() - 1, Collect, &r);

  PduFramer bytewise(o);
  Framed r2;
  for (size_t i = 1; i < seed.size(); ++i) {
    if (bytewise.Feed(seed.data() + i, 1, Collect, &r2) == 0) break;
  }
  EXPECT_EQ(r.types, r2.types);
  EXPECT_EQ(r.data_lens, r2.data_lens);
  EXPECT_EQ(whole.state(), bytewise.state());
  EXPECT_EQ(whole.sent(), bytewise.sent());
  if (out_state != nullptr) *out_state = whole;
  return r;
}

TEST(PduFramer, IcReqOnly) {
  PduFramer f{FramerOptions{}};
  Framed r = Frame(Seeds().at("icreq"), &f);
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq}));
  EXPECT_TRUE(f.icreq_done());
  EXPECT_EQ(f.state(), PduFramer::State::kCommonHeader);
  ASSERT_EQ(f.sent().size(), sizeof(IcResp));
  IcResp resp;
  memcpy(&resp, f.sent().data(), sizeof(resp));
  EXPECT_EQ(resp.ch.pdu_type, kIcResp);
  EXPECT_EQ(resp.maxh2cdata, 128u * 1024);
}

TEST(PduFramer, ConnectWithInCapsuleData) {
  Framed r = Frame(Seeds().at("connect"));
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kCapsuleCmd}));
  EXPECT_EQ(r.data_lens, (std::vector<uint32_t>{0, 1024}));
}

TEST(PduFramer, Reads) {
  Framed r = Frame(Seeds().at("read"));
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kCapsuleCmd, kCapsuleCmd}));
}

TEST(PduFramer, WriteInCapsuleWithDigests) {
  PduFramer f{FramerOptions{}};
  Framed r = Frame(Seeds().at("write_icd_digests"), &f);
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kCapsuleCmd}));
  EXPECT_EQ(r.data_lens, (std::vector<uint32_t>{0, 512}));
  EXPECT_EQ(r.bad_data_digests, 0);
  EXPECT_TRUE(f.params().hdgst);
  EXPECT_TRUE(f.params().ddgst);
}

TEST(PduFramer, WriteThroughH2CData) {
  Framed r = Frame(Seeds().at("write_h2cdata"));
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kCapsuleCmd, kH2CData, kH2CData}));
  EXPECT_EQ(r.data_lens, (std::vector<uint32_t>{0, 0, 4096, 4096}));
}

TEST(PduFramer, HeaderDigestAndAlignment) {
  PduFramer f{FramerOptions{}};
  Framed r = Frame(Seeds().at("hdgst_cpda1"), &f);
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kCapsuleCmd, kCapsuleCmd, kH2CData}));
  EXPECT_EQ(r.data_lens, (std::vector<uint32_t>{0, 512, 0, 2048}));
  EXPECT_EQ(f.params().hpda, 7);
  EXPECT_EQ(f.state(), PduFramer::State::kCommonHeader);
}

TEST(PduFramer, SmallLimits) {
  Framed r = Frame(Seeds().at("digests_small_limits"));
  EXPECT_EQ(r.data_lens, (std::vector<uint32_t>{0, 0, 4096}));
  EXPECT_EQ(r.bad_data_digests, 0);
}

TEST(PduFramer, UnverifiedDigestsStillFlagged) {
  // With verification off every digest is accepted.
  Framed r = Frame(Seeds().at("unverified_digests"));
  EXPECT_EQ(r.types.size(), 2u);
  EXPECT_EQ(r.bad_data_digests, 0);
  // With verification on, the same stream delivers the capsule with a bad data digest
  // (a command error, not a fatal one).
  Bytes s = Seeds().at("unverified_digests");
  s[0] |= kOptVerifyDigests;
  r = Frame(s);
  EXPECT_EQ(r.types.size(), 2u);
  EXPECT_EQ(r.bad_data_digests, 1);
}

TEST(PduFramer, HostTermination) {
  PduFramer f{FramerOptions{}};
  Framed r = Frame(Seeds().at("h2c_termreq"), &f);
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kH2CTermReq}));
  EXPECT_EQ(r.data_lens, (std::vector<uint32_t>{0, 24}));
  EXPECT_EQ(f.state(), PduFramer::State::kClosed);
  EXPECT_EQ(f.sent().size(), sizeof(IcResp));  // no C2HTermReq in reply
}

TEST(PduFramer, ControllerToHostTypeTerminates) {
  PduFramer f{FramerOptions{}};
  Framed r = Frame(Seeds().at("bad_type"), &f);
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq, kCapsuleCmd}));
  EXPECT_EQ(f.state(), PduFramer::State::kTerminated);
  EXPECT_EQ(f.error().fes, kFesInvalidHeaderField);
  EXPECT_EQ(f.error().fei, 0u);
  // ICResp, then a C2HTermReq carrying the 8 common-header bytes read so far.
  ASSERT_EQ(f.sent().size(), sizeof(IcResp) + 24 + 8);
  const Bytes want = {0x03, 0x00, 0x18, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x05, 0x00, 0x18, 0x00, 0x18, 0x00, 0x00, 0x00};
  EXPECT_EQ(Bytes(f.sent().begin() + sizeof(IcResp), f.sent().end()), want);
}

TEST(PduFramer, BadHeaderDigestTerminates) {
  PduFramer f{FramerOptions{}};
  Framed r = Frame(Seeds().at("bad_hdgst"), &f);
  EXPECT_EQ(r.types, (std::vector<uint8_t>{kIcReq}));
  EXPECT_EQ(f.state(), PduFramer::State::kTerminated);
  EXPECT_EQ(f.error().fes, kFesHeaderDigestError);
  // FEI = the header digest found in the PDU (the last 4 bytes of the seed).
  const Bytes s = Seeds().at("bad_hdgst");
  uint32_t received;
  memcpy(&received, s.data() + s.size() - 4, 4);
  EXPECT_EQ(f.error().fei, received);
}

TEST(PduFramer, NothingBeforeIcReq) {
  Bytes s = Seeds().at("read");
  // Drop the ICReq: the capsule is out of sequence.
  Bytes stream(s.begin() + 1 + sizeof(IcReq), s.end());
  PduFramer f{OptionsFromByte(s[0])};
  EXPECT_EQ(f.Feed(stream.data(), stream.size(), nullptr, nullptr), 8u);
  EXPECT_EQ(f.state(), PduFramer::State::kTerminated);
  EXPECT_EQ(f.error().fes, kFesPduSequenceError);
}

TEST(FuzzPdu, SeedsRunClean) {
  for (const auto& [name, bytes] : MakePduSeeds()) {
    SCOPED_TRACE(name);
    FuzzPduOneInput(bytes.data(), bytes.size());
    for (int chunk = 1; chunk < 8; ++chunk) {  // every chunking mode
      Bytes b = bytes;
      b[0] = static_cast<uint8_t>((b[0] & 0x1F) | OptChunking(static_cast<uint8_t>(chunk)));
      FuzzPduOneInput(b.data(), b.size());
    }
  }
  FuzzPduOneInput(nullptr, 0);
  const uint8_t one = 0xE0;
  FuzzPduOneInput(&one, 1);
}

// A short deterministic mutation run: byte flips, truncations and splices of the seeds.
TEST(FuzzPdu, DeterministicMutations) {
  const auto seeds = MakePduSeeds();
  std::mt19937 rng(20261121);
  for (int i = 0; i < 3000; ++i) {
    Bytes b = seeds[rng() % seeds.size()].second;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      switch (rng() % 4) {
        case 0:  // flip a byte, preferring the headers near the start
          b[rng() % std::min<size_t>(b.size(), 300)] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          b[rng() % b.size()] = static_cast<uint8_t>(rng());
          break;
        case 2:
          b.resize(rng() % (b.size() + 1));
          break;
        case 3: {  // splice in a piece of another seed
          const Bytes& o = seeds[rng() % seeds.size()].second;
          size_t at = rng() % (b.size() + 1), from = rng() % o.size(), n = rng() % 200;
          n = std::min(n, o.size() - from);
          b.insert(b.begin() + static_cast<long>(at), o.begin() + static_cast<long>(from),
                   o.begin() + static_cast<long>(from + n));
          break;
        }
      }
    }
    FuzzPduOneInput(b.data(), b.size());
  }
}

}  // namespace
}  // namespace nvmeof::fuzz
