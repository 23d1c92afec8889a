// NVMe wire structures: NVMe Base 2.0, NVMe over Fabrics 1.1 and the NVM command set.
//
// Every structure the target sends or parses is defined here once, as a packed
// little-endian layout with its offsets checked at compile time. Pure data: no I/O.
// NVMe/TCP PDUs are in nvme_tcp.h.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

static_assert(std::endian::native == std::endian::little, "NVMe structures are little-endian");

namespace nvmeof::nvme {

// ---------------------------------------------------------------- opcodes

enum AdminOpcode : uint8_t {
  kAdminGetLogPage = 0x02,
  kAdminIdentify = 0x06,
  kAdminAbort = 0x08,
  kAdminSetFeatures = 0x09,
  kAdminGetFeatures = 0x0A,
  kAdminAsyncEventRequest = 0x0C,
  kAdminKeepAlive = 0x18,
  kAdminFabrics = 0x7F,
};

enum IoOpcode : uint8_t {
  kIoFlush = 0x00,
  kIoWrite = 0x01,
  kIoRead = 0x02,
  kIoCompare = 0x05,
  kIoWriteZeroes = 0x08,
  kIoDatasetManagement = 0x09,
  kIoFabrics = 0x7F,
};

enum FabricsType : uint8_t {
  kFctypePropertySet = 0x00,
  kFctypeConnect = 0x01,
  kFctypePropertyGet = 0x04,
  kFctypeAuthSend = 0x05,
  kFctypeAuthReceive = 0x06,
  kFctypeDisconnect = 0x08,
};

// Data direction of an opcode: bits 1:0 (01 host->controller, 10 controller->host).
inline constexpr bool OpcodeHostToController(uint8_t opc) { return (opc & 0x3) == 0x1; }
inline constexpr bool OpcodeControllerToHost(uint8_t opc) { return (opc & 0x3) == 0x2; }

// ---------------------------------------------------------------- status

// Status Code Type (SCT).
enum Sct : uint8_t {
  kSctGeneric = 0x0,
  kSctCommandSpecific = 0x1,
  kSctMediaError = 0x2,
  kSctPath = 0x3,
};

// Generic command status (SCT 0).
enum ScGeneric : uint8_t {
  kScSuccess = 0x00,
  kScInvalidOpcode = 0x01,
  kScInvalidField = 0x02,
  kScCommandIdConflict = 0x03,
  kScDataTransferError = 0x04,
  kScInternalError = 0x06,
  kScAbortRequested = 0x07,
  kScAbortSqDeleted = 0x08,
  kScInvalidNamespaceOrFormat = 0x0B,
  kScCommandSequenceError = 0x0C,
  kScInvalidSglSegmentDescriptor = 0x0D,
  kScDataSglLengthInvalid = 0x0F,
  kScSglDescriptorTypeInvalid = 0x11,
  kScSglOffsetInvalid = 0x16,
  kScHostIdInconsistentFormat = 0x18,
  kScKeepAliveTimerExpired = 0x19,
  kScTransientTransportError = 0x22,
  kScInvalidKeepAliveTimeout = 0x1A,
  kScNamespaceWriteProtected = 0x20,
  kScLbaOutOfRange = 0x80,
  kScCapacityExceeded = 0x81,
  kScNamespaceNotReady = 0x82,
};

// Command specific status (SCT 1).
enum ScCommandSpecific : uint8_t {
  kScInvalidQueueIdentifier = 0x01,
  kScInvalidQueueSize = 0x02,
  kScAbortCommandLimitExceeded = 0x03,
  kScAsyncEventRequestLimitExceeded = 0x05,
  kScInvalidLogPage = 0x09,
  kScFeatureIdNotSaveable = 0x0D,
  kScFeatureNotChangeable = 0x0E,
  // Fabrics (Connect)
  kScConnectIncompatibleFormat = 0x80,
  kScConnectControllerBusy = 0x81,
  kScConnectInvalidParameters = 0x82,
  kScConnectRestartDiscovery = 0x83,
  kScConnectInvalidHost = 0x84,
  kScInvalidQueueType = 0x85,  // Disconnect on the admin queue
  kScAuthRequired = 0x91,      // the queue must authenticate first (DH-HMAC-CHAP)
};

// Media and data integrity errors (SCT 2).
enum ScMedia : uint8_t {
  kScWriteFault = 0x80,
  kScUnrecoveredReadError = 0x81,
  kScCompareFailure = 0x85,
  kScAccessDenied = 0x86,
};

// Path related status (SCT 3).
enum ScPath : uint8_t {
  kScInternalPathError = 0x00,
  kScAnaPersistentLoss = 0x01,
  kScAnaInaccessible = 0x02,
  kScAnaTransition = 0x03,
  kScControllerPathingError = 0x60,
  kScHostPathingError = 0x70,
  kScCommandAbortedByHost = 0x71,
};

// A completion status as it sits in CQE bits 15:1 (phase bit excluded).
struct Status {
  uint8_t sct = kSctGeneric;
  uint8_t sc = kScSuccess;
  bool dnr = false;  // do not retry
  bool more = false;

  constexpr bool ok() const { return sct == kSctGeneric && sc == kScSuccess; }
  constexpr uint16_t Encode() const {
    return static_cast<uint16_t>((sc << 1) | ((sct & 0x7) << 9) | (more ? 1u << 14 : 0) |
                                 (dnr ? 1u << 15 : 0));
  }
  static constexpr Status Decode(uint16_t v) {
    return Status{static_cast<uint8_t>((v >> 9) & 0x7), static_cast<uint8_t>((v >> 1) & 0xFF),
                  (v & (1u << 15)) != 0, (v & (1u << 14)) != 0};
  }
  friend constexpr bool operator==(const Status& a, const Status& b) {
    return a.sct == b.sct && a.sc == b.sc && a.dnr == b.dnr;
  }
};

inline constexpr Status kSuccess{};
inline constexpr Status Generic(uint8_t sc, bool dnr = true) { return Status{kSctGeneric, sc, dnr}; }
inline constexpr Status CmdSpecific(uint8_t sc, bool dnr = true) {
  return Status{kSctCommandSpecific, sc, dnr};
}
inline constexpr Status Media(uint8_t sc, bool dnr = true) { return Status{kSctMediaError, sc, dnr}; }
inline constexpr Status Path(uint8_t sc, bool dnr = false) { return Status{kSctPath, sc, dnr}; }

// ---------------------------------------------------------------- SGL

// SGL descriptor identifier byte: type in bits 7:4, subtype in bits 3:0.
enum SglId : uint8_t {
  kSglDataBlockOffset = 0x01,      // data block, subtype offset: in-capsule data
  kSglTransportDataBlock = 0x5A,   // transport SGL data block, transport specific: R2T/C2H
};

struct __attribute__((packed)) SglDescriptor {
  uint64_t address;  // offset into the capsule for in-capsule data
  uint32_t length;
  uint8_t reserved[3];
  uint8_t id;  // SglId
};
static_assert(sizeof(SglDescriptor) == 16);

// ---------------------------------------------------------------- SQE / CQE

// Submission queue entry (64 bytes).
struct __attribute__((packed)) Sqe {
  uint8_t opcode;
  uint8_t flags;  // bits 1:0 FUSE, bits 7:6 PSDT (fabrics: always SGL)
  uint16_t cid;
  uint32_t nsid;
  uint32_t cdw2;
  uint32_t cdw3;
  uint64_t mptr;
  SglDescriptor sgl1;  // DPTR
  uint32_t cdw10;
  uint32_t cdw11;
  uint32_t cdw12;
  uint32_t cdw13;
  uint32_t cdw14;
  uint32_t cdw15;

  // Fabrics commands reuse the NSID field position for FCTYPE (byte 4).
  uint8_t fctype() const { return static_cast<uint8_t>(nsid & 0xFF); }
};
static_assert(sizeof(Sqe) == 64);
static_assert(offsetof(Sqe, sgl1) == 24);
static_assert(offsetof(Sqe, cdw10) == 40);

// Completion queue entry (16 bytes).
struct __attribute__((packed)) Cqe {
  uint32_t dw0;
  uint32_t dw1;
  uint16_t sqhd;
  uint16_t sqid;
  uint16_t cid;
  uint16_t status;  // bit 0 phase (always 0 on fabrics), bits 15:1 Status::Encode()
};
static_assert(sizeof(Cqe) == 16);

// ---------------------------------------------------------------- Fabrics commands

// Connect command (fields of the SQE after the common header).
struct __attribute__((packed)) ConnectCmd {
  uint8_t opcode;  // 0x7F
  uint8_t reserved1;
  uint16_t cid;
  uint8_t fctype;  // kFctypeConnect
  uint8_t reserved2[19];
  SglDescriptor sgl1;
  uint16_t recfmt;  // 0
  uint16_t qid;
  uint16_t sqsize;  // 0's based
  uint8_t cattr;
  uint8_t reserved3;
  uint32_t kato;  // ms
  uint8_t reserved4[12];
};
static_assert(sizeof(ConnectCmd) == 64);
static_assert(offsetof(ConnectCmd, recfmt) == 40);
static_assert(offsetof(ConnectCmd, kato) == 48);

// Connect command data (1024 bytes, host to controller).
struct __attribute__((packed)) ConnectData {
  uint8_t hostid[16];
  uint16_t cntlid;  // 0xFFFF: dynamic controller model
  uint8_t reserved1[238];
  char subnqn[256];
  char hostnqn[256];
  uint8_t reserved2[256];
};
static_assert(sizeof(ConnectData) == 1024);
static_assert(offsetof(ConnectData, subnqn) == 256);
static_assert(offsetof(ConnectData, hostnqn) == 512);

inline constexpr size_t kNqnMaxLen = 223;  // bytes, without the terminating NUL

// Connect response: CQE dw0 holds CNTLID on success; on Invalid Parameters, bits 15:0 IPO
// (byte offset of the invalid parameter) and bit 16 IATTR (1: in the Connect data, 0: in
// the SQE); NVMe-oF 1.1 Connect Response.
inline constexpr uint32_t ConnectInvalidParam(bool in_data, uint16_t byte_offset) {
  return (in_data ? 1u << 16 : 0u) | byte_offset;
}

struct __attribute__((packed)) PropertyCmd {
  uint8_t opcode;
  uint8_t reserved1;
  uint16_t cid;
  uint8_t fctype;  // Get or Set
  uint8_t reserved2[35];
  uint8_t attrib;  // bits 2:0 size: 0 = 4 bytes, 1 = 8 bytes
  uint8_t reserved3[3];
  uint32_t offset;
  uint64_t value;  // Property Set only
  uint8_t reserved4[8];
};
static_assert(sizeof(PropertyCmd) == 64);
static_assert(offsetof(PropertyCmd, attrib) == 40);
static_assert(offsetof(PropertyCmd, offset) == 44);
static_assert(offsetof(PropertyCmd, value) == 48);

// Controller properties (offsets).
enum Property : uint32_t {
  kPropCap = 0x00,   // 8 bytes
  kPropVs = 0x08,    // 4
  kPropIntms = 0x0C,
  kPropIntmc = 0x10,
  kPropCc = 0x14,    // 4
  kPropCsts = 0x1C,  // 4
  kPropNssr = 0x20,  // 4
};

// CC fields.
inline constexpr uint32_t kCcEn = 1u << 0;
inline constexpr uint32_t CcShn(uint32_t cc) { return (cc >> 14) & 0x3; }
inline constexpr uint32_t CcIosqes(uint32_t cc) { return (cc >> 16) & 0xF; }
inline constexpr uint32_t CcIocqes(uint32_t cc) { return (cc >> 20) & 0xF; }
inline constexpr uint32_t CcMps(uint32_t cc) { return (cc >> 7) & 0xF; }
inline constexpr uint32_t CcCss(uint32_t cc) { return (cc >> 4) & 0x7; }
inline constexpr uint32_t CcAms(uint32_t cc) { return (cc >> 11) & 0x7; }
inline constexpr uint32_t kCcShnMask = 3u << 14;
// CSTS fields.
inline constexpr uint32_t kCstsRdy = 1u << 0;
inline constexpr uint32_t kCstsCfs = 1u << 1;
inline constexpr uint32_t kCstsShstOccurring = 1u << 2;
inline constexpr uint32_t kCstsShstComplete = 2u << 2;

inline constexpr uint32_t Version(uint32_t major, uint32_t minor, uint32_t tertiary = 0) {
  return (major << 16) | (minor << 8) | tertiary;
}

// ---------------------------------------------------------------- Identify

enum IdentifyCns : uint8_t {
  kCnsNamespace = 0x00,
  kCnsController = 0x01,
  kCnsActiveNsList = 0x02,
  kCnsNsIdDescriptors = 0x03,
  kCnsIoCsNamespace = 0x05,
  kCnsIoCsController = 0x06,
  kCnsIoCsActiveNsList = 0x07,
};

enum ControllerType : uint8_t { kCntrlTypeIo = 1, kCntrlTypeDiscovery = 2, kCntrlTypeAdmin = 3 };

struct __attribute__((packed)) PowerStateDescriptor {
  uint16_t mp;
  uint8_t reserved1;
  uint8_t flags;
  uint32_t enlat;
  uint32_t exlat;
  uint8_t rrt, rrl, rwt, rwl;
  uint16_t idlp;
  uint8_t ips;
  uint8_t reserved2;
  uint16_t actp;
  uint8_t apw_aps;
  uint8_t reserved3[9];
};
static_assert(sizeof(PowerStateDescriptor) == 32);

struct __attribute__((packed)) IdentifyController {
  uint16_t vid;
  uint16_t ssvid;
  char sn[20];
  char mn[40];
  char fr[8];
  uint8_t rab;
  uint8_t ieee[3];
  uint8_t cmic;  // bit 1: more than one controller; bit 3: ANA reporting
  uint8_t mdts;  // 2^n units of the minimum page size (4 KiB); 0 = no limit
  uint16_t cntlid;
  uint32_t ver;
  uint32_t rtd3r;
  uint32_t rtd3e;
  uint32_t oaes;  // bit 8 NS attribute notices, bit 11 ANA change, bit 31 discovery log change
  uint32_t ctratt;
  uint16_t rrls;
  uint8_t reserved1[9];
  uint8_t cntrltype;
  uint8_t fguid[16];
  uint16_t crdt1, crdt2, crdt3;
  uint8_t reserved2[119];
  uint8_t nvmsr;
  uint8_t vwci;
  uint8_t mec;
  // Admin command set attributes (offset 256)
  uint16_t oacs;
  uint8_t acl;   // 0's based
  uint8_t aerl;  // 0's based
  uint8_t frmw;
  uint8_t lpa;   // bit 2 extended data (NUMDU/offset), bit 1 command effects log
  uint8_t elpe;  // 0's based
  uint8_t npss;
  uint8_t avscc;
  uint8_t apsta;
  uint16_t wctemp;
  uint16_t cctemp;
  uint16_t mtfa;
  uint32_t hmpre;
  uint32_t hmmin;
  uint8_t tnvmcap[16];
  uint8_t unvmcap[16];
  uint32_t rpmbs;
  uint16_t edstt;
  uint8_t dsto;
  uint8_t fwug;
  uint16_t kas;  // keep alive granularity, 100 ms units
  uint16_t hctma;
  uint16_t mntmt;
  uint16_t mxtmt;
  uint32_t sanicap;
  uint32_t hmminds;
  uint16_t hmmaxd;
  uint16_t nsetidmax;
  uint16_t endgidmax;
  uint8_t anatt;   // ANA transition time, seconds
  uint8_t anacap;  // bit 0 optimized, 1 non-optimized, 2 inaccessible, 3 persistent loss, 4 change, 6 grpid not changed by attach, 7 non-zero grpid
  uint32_t anagrpmax;
  uint32_t nanagrpid;
  uint32_t pels;
  uint16_t domainid;
  uint8_t reserved3[10];
  uint8_t megcap[16];
  uint8_t reserved4[128];
  // NVM command set attributes (offset 512)
  uint8_t sqes;
  uint8_t cqes;
  uint16_t maxcmd;
  uint32_t nn;
  uint16_t oncs;  // bit 0 compare, 2 DSM, 3 write zeroes, 4 save/select in features
  uint16_t fuses;
  uint8_t fna;
  uint8_t vwc;  // bit 0 present; bits 2:1 = 11b: flush with NSID FFFFFFFFh supported
  uint16_t awun;
  uint16_t awupf;
  uint8_t icsvscc;
  uint8_t nwpc;
  uint16_t acwu;
  uint16_t ocfs;
  uint32_t sgls;  // bits 1:0 = 01b SGLs supported, bit 2 keyed, bit 20 offset? (see Identify)
  uint32_t mnan;
  uint8_t maxdna[16];
  uint32_t maxcna;
  uint8_t reserved5[204];
  char subnqn[256];
  uint8_t reserved6[768];
  // Fabrics (offset 1792)
  uint32_t ioccsz;  // I/O queue command capsule size, 16-byte units
  uint32_t iorcsz;  // I/O queue response capsule size, 16-byte units
  uint16_t icdoff;
  uint8_t fcatt;
  uint8_t msdbd;
  uint16_t ofcs;
  uint8_t reserved7[242];
  PowerStateDescriptor psd[32];
  uint8_t vs[1024];
};
static_assert(sizeof(IdentifyController) == 4096);
static_assert(offsetof(IdentifyController, cmic) == 76);
static_assert(offsetof(IdentifyController, oaes) == 92);
static_assert(offsetof(IdentifyController, cntrltype) == 111);
static_assert(offsetof(IdentifyController, oacs) == 256);
static_assert(offsetof(IdentifyController, kas) == 320);
static_assert(offsetof(IdentifyController, anatt) == 342);
static_assert(offsetof(IdentifyController, anacap) == 343);
static_assert(offsetof(IdentifyController, anagrpmax) == 344);
static_assert(offsetof(IdentifyController, nanagrpid) == 348);
static_assert(offsetof(IdentifyController, pels) == 352);
static_assert(offsetof(IdentifyController, sqes) == 512);
static_assert(offsetof(IdentifyController, nn) == 516);
static_assert(offsetof(IdentifyController, oncs) == 520);
static_assert(offsetof(IdentifyController, vwc) == 525);
static_assert(offsetof(IdentifyController, sgls) == 536);
static_assert(offsetof(IdentifyController, mnan) == 540);
static_assert(offsetof(IdentifyController, subnqn) == 768);
static_assert(offsetof(IdentifyController, ioccsz) == 1792);
static_assert(offsetof(IdentifyController, psd) == 2048);

// OAES bits.
inline constexpr uint32_t kOaesNsAttr = 1u << 8;
inline constexpr uint32_t kOaesAnaChange = 1u << 11;
inline constexpr uint32_t kOaesDiscoveryLogChange = 1u << 31;
// ONCS bits.
inline constexpr uint16_t kOncsCompare = 1u << 0;
inline constexpr uint16_t kOncsDsm = 1u << 2;
inline constexpr uint16_t kOncsWriteZeroes = 1u << 3;
// CMIC bits.
inline constexpr uint8_t kCmicMultiCtrl = 1u << 1;
inline constexpr uint8_t kCmicAna = 1u << 3;

struct __attribute__((packed)) LbaFormat {
  uint16_t ms;
  uint8_t lbads;  // 2^n bytes
  uint8_t rp;
};
static_assert(sizeof(LbaFormat) == 4);

struct __attribute__((packed)) IdentifyNamespace {
  uint64_t nsze;
  uint64_t ncap;
  uint64_t nuse;
  uint8_t nsfeat;  // bit 0 thin provisioning, bit 1 NAWUN.., bit 3 NGUID/EUI64 never reused, bit 4 optimal perf fields
  uint8_t nlbaf;   // 0's based
  uint8_t flbas;
  uint8_t mc;
  uint8_t dpc;
  uint8_t dps;
  uint8_t nmic;  // bit 0: may be attached to more than one controller
  uint8_t rescap;
  uint8_t fpi;
  uint8_t dlfeat;  // bits 2:0 = 001b deallocated blocks read as zeroes
  uint16_t nawun;
  uint16_t nawupf;
  uint16_t nacwu;
  uint16_t nabsn;
  uint16_t nabo;
  uint16_t nabspf;
  uint16_t noiob;
  uint8_t nvmcap[16];
  uint16_t npwg;
  uint16_t npwa;
  uint16_t npdg;
  uint16_t npda;
  uint16_t nows;
  uint16_t mssrl;
  uint32_t mcl;
  uint8_t msrc;
  uint8_t reserved1[11];
  uint32_t anagrpid;
  uint8_t reserved2[3];
  uint8_t nsattr;
  uint16_t nvmsetid;
  uint16_t endgid;
  uint8_t nguid[16];
  uint8_t eui64[8];
  LbaFormat lbaf[64];
  uint8_t vs[3712];
};
static_assert(sizeof(IdentifyNamespace) == 4096);
static_assert(offsetof(IdentifyNamespace, nmic) == 30);
static_assert(offsetof(IdentifyNamespace, dlfeat) == 33);
static_assert(offsetof(IdentifyNamespace, npwg) == 64);
static_assert(offsetof(IdentifyNamespace, anagrpid) == 92);
static_assert(offsetof(IdentifyNamespace, nguid) == 104);
static_assert(offsetof(IdentifyNamespace, eui64) == 120);
static_assert(offsetof(IdentifyNamespace, nsattr) == 99);
static_assert(offsetof(IdentifyNamespace, nvmsetid) == 100);
static_assert(offsetof(IdentifyNamespace, endgid) == 102);
static_assert(offsetof(IdentifyNamespace, lbaf) == 128);
static_assert(offsetof(IdentifyNamespace, vs) == 384);

// Namespace identification descriptor types (CNS 03h).
enum NidType : uint8_t { kNidEui64 = 1, kNidNguid = 2, kNidUuid = 3, kNidCsi = 4 };

struct __attribute__((packed)) NsIdDescriptorHeader {
  uint8_t nidt;
  uint8_t nidl;
  uint16_t reserved;
};
static_assert(sizeof(NsIdDescriptorHeader) == 4);

// ---------------------------------------------------------------- Features

enum FeatureId : uint8_t {
  kFeatArbitration = 0x01,
  kFeatPowerManagement = 0x02,
  kFeatTemperatureThreshold = 0x04,
  kFeatErrorRecovery = 0x05,
  kFeatVolatileWriteCache = 0x06,
  kFeatNumberOfQueues = 0x07,
  kFeatInterruptCoalescing = 0x08,
  kFeatWriteAtomicityNormal = 0x0A,
  kFeatAsyncEventConfig = 0x0B,
  kFeatKeepAliveTimer = 0x0F,
  kFeatHostIdentifier = 0x81,
};

// ---------------------------------------------------------------- Log pages

enum LogPageId : uint8_t {
  kLogErrorInfo = 0x01,
  kLogSmartHealth = 0x02,
  kLogFirmwareSlot = 0x03,
  kLogChangedNsList = 0x04,
  kLogCommandsSupported = 0x05,
  kLogAna = 0x0C,
  kLogDiscovery = 0x70,
};

struct __attribute__((packed)) ErrorInfoEntry {
  uint64_t error_count;
  uint16_t sqid;
  uint16_t cid;
  uint16_t status;  // bits 15:1 status, bit 0 phase
  uint16_t param_error_location;
  uint64_t lba;
  uint32_t nsid;
  uint8_t vs;
  uint8_t trtype;
  uint8_t reserved1[2];
  uint64_t cs;
  uint16_t trtype_specific;
  uint8_t reserved2[22];
};
static_assert(sizeof(ErrorInfoEntry) == 64);

struct __attribute__((packed)) SmartHealthLog {
  uint8_t critical_warning;
  uint16_t composite_temperature;  // Kelvin
  uint8_t available_spare;
  uint8_t available_spare_threshold;
  uint8_t percentage_used;
  uint8_t endurance_group_critical_warning;
  uint8_t reserved1[25];
  uint8_t data_units_read[16];     // 1000 x 512 bytes units
  uint8_t data_units_written[16];
  uint8_t host_read_commands[16];
  uint8_t host_write_commands[16];
  uint8_t controller_busy_time[16];
  uint8_t power_cycles[16];
  uint8_t power_on_hours[16];
  uint8_t unsafe_shutdowns[16];
  uint8_t media_errors[16];
  uint8_t num_error_info_log_entries[16];
  uint32_t warning_temp_time;
  uint32_t critical_temp_time;
  uint16_t temp_sensor[8];
  uint32_t thm_temp1_trans_count;
  uint32_t thm_temp2_trans_count;
  uint32_t thm_temp1_total_time;
  uint32_t thm_temp2_total_time;
  uint8_t reserved2[280];
};
static_assert(sizeof(SmartHealthLog) == 512);
static_assert(offsetof(SmartHealthLog, data_units_read) == 32);

// Changed namespace list: up to 1024 NSIDs; 0xFFFFFFFF in entry 0 means "more than 1024".
struct __attribute__((packed)) ChangedNsList {
  uint32_t nsid[1024];
};
static_assert(sizeof(ChangedNsList) == 4096);
static_assert(offsetof(ChangedNsList, nsid) == 0);

// Commands Supported and Effects: 256 admin + 256 I/O entries.
inline constexpr uint32_t kCseCsupp = 1u << 0;   // command supported
inline constexpr uint32_t kCseLbcc = 1u << 1;    // logical block content change
inline constexpr uint32_t kCseNcc = 1u << 2;     // namespace capability change
inline constexpr uint32_t kCseNic = 1u << 3;     // namespace inventory change
inline constexpr uint32_t kCseCcc = 1u << 4;     // controller capability change
struct __attribute__((packed)) CommandsEffectsLog {
  uint32_t acs[256];
  uint32_t iocs[256];
  uint8_t reserved[2048];
};
static_assert(sizeof(CommandsEffectsLog) == 4096);
static_assert(offsetof(CommandsEffectsLog, acs) == 0);     // 1023:0 admin, 4 bytes each
static_assert(offsetof(CommandsEffectsLog, iocs) == 1024);  // 2047:1024 I/O

// ANA log page: header, then per group a descriptor followed by its NSIDs.
enum AnaState : uint8_t {
  kAnaOptimized = 0x01,
  kAnaNonOptimized = 0x02,
  kAnaInaccessible = 0x03,
  kAnaPersistentLoss = 0x04,
  kAnaChange = 0x0F,
};
struct __attribute__((packed)) AnaLogHeader {
  uint64_t change_count;
  uint16_t num_descriptors;
  uint8_t reserved[6];
};
static_assert(sizeof(AnaLogHeader) == 16);
struct __attribute__((packed)) AnaGroupDescriptor {
  uint32_t anagrpid;
  uint32_t num_nsids;
  uint64_t change_count;
  uint8_t state;
  uint8_t reserved[15];
  // followed by num_nsids x uint32_t NSID (omitted when LSP bit 0 "RGO" is set)
};
static_assert(sizeof(AnaGroupDescriptor) == 32);

// Asynchronous event completion (dw0).
enum AsyncEventType : uint8_t { kAerError = 0, kAerSmart = 1, kAerNotice = 2, kAerIoCmdSet = 6 };
enum AsyncEventNotice : uint8_t {
  kAenNsAttrChanged = 0x00,
  kAenFirmwareActivation = 0x01,
  kAenTelemetry = 0x02,
  kAenAnaChange = 0x03,
  kAenDiscoveryLogChange = 0xF0,
};
inline constexpr uint32_t AsyncEventDw0(uint8_t type, uint8_t info, uint8_t log_page) {
  return static_cast<uint32_t>(type & 0x7) | (static_cast<uint32_t>(info) << 8) |
         (static_cast<uint32_t>(log_page) << 16);
}
// Asynchronous Event Configuration feature bits.
inline constexpr uint32_t kAecNsAttr = 1u << 8;
inline constexpr uint32_t kAecAnaChange = 1u << 11;
inline constexpr uint32_t kAecDiscoveryLogChange = 1u << 31;

// ---------------------------------------------------------------- Discovery log

enum TransportType : uint8_t { kTrtypeRdma = 1, kTrtypeFc = 2, kTrtypeTcp = 3, kTrtypeLoop = 254 };
enum AddressFamily : uint8_t { kAdrfamIpv4 = 1, kAdrfamIpv6 = 2 };
enum SubsystemType : uint8_t {
  kSubtypeReferral = 1,
  kSubtypeNvm = 2,
  kSubtypeCurrentDiscovery = 3,
};
enum Treq : uint8_t {
  kTreqNotSpecified = 0,
  kTreqRequired = 1,
  kTreqNotRequired = 2,
  kTreqSqFlowControlDisableSupported = 1u << 2,
};
// The TCP transport's security type (DiscoveryLogEntry::tsas[0]).
inline constexpr uint8_t kTcpSectypeNone = 0;
inline constexpr uint8_t kTcpSectypeTls13 = 2;

struct __attribute__((packed)) DiscoveryLogHeader {
  uint64_t genctr;
  uint64_t numrec;
  uint16_t recfmt;
  uint8_t reserved[1006];
};
static_assert(sizeof(DiscoveryLogHeader) == 1024);

struct __attribute__((packed)) DiscoveryLogEntry {
  uint8_t trtype;
  uint8_t adrfam;
  uint8_t subtype;
  uint8_t treq;
  uint16_t portid;
  uint16_t cntlid;
  uint16_t asqsz;
  uint16_t eflags;
  uint8_t reserved1[20];
  char trsvcid[32];
  uint8_t reserved2[192];
  char subnqn[256];
  char traddr[256];
  uint8_t tsas[256];  // TCP: byte 0 SECTYPE (kTcpSectype*)
};
static_assert(sizeof(DiscoveryLogEntry) == 1024);
static_assert(offsetof(DiscoveryLogEntry, eflags) == 10);
static_assert(offsetof(DiscoveryLogEntry, trsvcid) == 32);
static_assert(offsetof(DiscoveryLogEntry, subnqn) == 256);
static_assert(offsetof(DiscoveryLogEntry, traddr) == 512);
static_assert(offsetof(DiscoveryLogEntry, tsas) == 768);

inline constexpr const char kDiscoveryNqn[] = "nqn.2014-08.org.nvmexpress.discovery";

// ---------------------------------------------------------------- Dataset Management

inline constexpr uint32_t kDsmAttrDeallocate = 1u << 2;  // CDW11 AD
struct __attribute__((packed)) DsmRange {
  uint32_t attributes;
  uint32_t nlb;  // number of logical blocks (not 0's based)
  uint64_t slba;
};
static_assert(sizeof(DsmRange) == 16);

// Read/Write CDW12 bits.
inline constexpr uint32_t kRwFua = 1u << 30;
inline constexpr uint32_t kRwLimitedRetry = 1u << 31;
inline constexpr uint32_t kWzDeallocate = 1u << 25;

// Fixed-width, space-padded ASCII (SN, MN, FR).
inline void CopyPadded(char* dst, size_t n, const char* src) {
  size_t len = strnlen(src, n);
  memcpy(dst, src, len);
  memset(dst + len, ' ', n - len);
}
// NUL-terminated, zero-padded string fields (NQNs, TRADDR).
inline void CopyZeroPadded(char* dst, size_t n, const char* src) {
  size_t len = strnlen(src, n - 1);
  memset(dst, 0, n);
  memcpy(dst, src, len);
}

}  // namespace nvmeof::nvme
