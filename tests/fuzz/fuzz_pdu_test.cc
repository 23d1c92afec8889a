// The fuzz_pdu seed corpus through the transport's real PDU reader (each seed must parse as
// its comment says), plus every seed in every chunking mode and a short deterministic
// mutation run of the fuzz entry point, so that gcc and sanitizer builds exercise it too.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gateway/protocol/nvme_tcp.h"
#include "tests/fuzz/mutate.h"
#include "tests/fuzz/fuzz_pdu_input.h"

namespace nvmeof::fuzz {
namespace {

using namespace nvmeof::tcp;
using Bytes = std::vector<uint8_t>;

std::map<std::string, Bytes> Seeds() {
  std::map<std::string, Bytes> m;
  for (auto& [name, bytes] : MakePduSeeds()) m[name] = bytes;
  return m;
}

// Runs a seed in one call and byte by byte; both must agree.
PduOutcome RunStream(const Bytes& seed) {
  PduOutcome whole = RunPduStream(seed.at(0), seed.data() + 1, seed.size() - 1, 0);
  PduOutcome bytewise = RunPduStream(seed.at(0), seed.data() + 1, seed.size() - 1, 1);
  EXPECT_EQ(whole.events, bytewise.events);
  EXPECT_EQ(whole.data_crc, bytewise.data_crc);
  EXPECT_EQ(whole.fes, bytewise.fes);
  EXPECT_EQ(whole.fei, bytewise.fei);
  return whole;
}

std::string Events(const PduOutcome& o) { return std::string(o.events.begin(), o.events.end()); }

TEST(FuzzPduSeeds, IcReqOnly) {
  PduOutcome o = RunStream(Seeds().at("icreq"));
  EXPECT_EQ(Events(o), "I");
  EXPECT_TRUE(o.icreq_done);
  EXPECT_FALSE(o.failed);
}

TEST(FuzzPduSeeds, ConnectWithInCapsuleData) {
  PduOutcome o = RunStream(Seeds().at("connect"));
  EXPECT_EQ(Events(o), "ICD");
  EXPECT_EQ(o.data_bytes, 1024u);
}

TEST(FuzzPduSeeds, Reads) { EXPECT_EQ(Events(RunStream(Seeds().at("read"))), "ICC"); }

TEST(FuzzPduSeeds, WriteInCapsuleWithDigests) {
  PduOutcome o = RunStream(Seeds().at("write_icd_digests"));
  EXPECT_EQ(Events(o), "ICD");
  EXPECT_EQ(o.data_bytes, 512u);
}

TEST(FuzzPduSeeds, WriteThroughH2CData) {
  PduOutcome o = RunStream(Seeds().at("write_h2cdata"));
  EXPECT_EQ(Events(o), "ICHDHD");
  EXPECT_EQ(o.data_bytes, 8192u);
}

TEST(FuzzPduSeeds, HeaderDigestAndAlignment) {
  PduOutcome o = RunStream(Seeds().at("hdgst_cpda1"));
  EXPECT_EQ(Events(o), "ICDCHD");
  EXPECT_EQ(o.data_bytes, 512u + 2048u);
}

TEST(FuzzPduSeeds, SmallLimits) {
  PduOutcome o = RunStream(Seeds().at("digests_small_limits"));
  EXPECT_EQ(Events(o), "ICHD");
  EXPECT_EQ(o.data_bytes, 4096u);
}

TEST(FuzzPduSeeds, BadDataDigestIsACommandError) {
  PduOutcome o = RunStream(Seeds().at("bad_ddgst"));
  EXPECT_EQ(Events(o), "ICdC");
  EXPECT_FALSE(o.failed);
}

TEST(FuzzPduSeeds, HostTermination) {
  PduOutcome o = RunStream(Seeds().at("h2c_termreq"));
  EXPECT_EQ(Events(o), "IT");
  EXPECT_TRUE(o.closed);
  EXPECT_TRUE(o.term_req.empty());  // no C2HTermReq in reply
}

TEST(FuzzPduSeeds, ControllerToHostTypeTerminates) {
  PduOutcome o = RunStream(Seeds().at("bad_type"));
  EXPECT_EQ(Events(o), "ICF");
  EXPECT_EQ(o.fes, kFesInvalidHeaderField);
  EXPECT_EQ(o.fei, 0u);
  // A C2HTermReq carrying the offending 24-byte header (all of it arrived in one read).
  const Bytes want = {0x03, 0x00, 0x18, 0x00, 0x30, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x05, 0x00, 0x18, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(o.term_req, want);
}

TEST(FuzzPduSeeds, BadHeaderDigestTerminates) {
  const Bytes s = Seeds().at("bad_hdgst");
  PduOutcome o = RunStream(s);
  EXPECT_EQ(Events(o), "IF");
  EXPECT_EQ(o.fes, kFesHeaderDigestError);
  // FEI = the header digest found in the PDU (the last 4 bytes of the seed).
  uint32_t received;
  memcpy(&received, s.data() + s.size() - 4, 4);
  EXPECT_EQ(o.fei, received);
}

TEST(FuzzPduSeeds, NothingBeforeIcReq) {
  Bytes s = Seeds().at("read");
  // Drop the ICReq: the capsule is out of sequence.
  Bytes stream(s.begin() + 1 + sizeof(IcReq), s.end());
  PduOutcome o = RunPduStream(s[0], stream.data(), stream.size(), 0);
  EXPECT_EQ(Events(o), "F");
  EXPECT_EQ(o.fes, kFesPduSequenceError);
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
  RunMutations(MakePduSeeds(), 20261121, 3000, 300, 200, FuzzPduOneInput);
}

}  // namespace
}  // namespace nvmeof::fuzz
