#include "controlplane/cdr/cdr_decode.h"

#include "controlplane/bill/local_bill.h"

#include <charconv>
#include <cstdint>
#include <cstdio>

#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/storage/durable_file.h"
#include "controlplane/time_format.h"

namespace tally::cdr {
namespace {

using ber::Tag;
using ber::TagClass;
using ber::Tlv;
using Json = nlohmann::ordered_json;
using Bytes = std::span<const uint8_t>;

// ---------------------------------------------------------------------------------------------
// Names (TS 32.298 V16.11.0)

struct Named {
  int64_t value;
  const char* name;
};

constexpr Named kRecordTypes[] = {
    {18, "sgsnPDPRecord"},  {20, "sgsnMMRecord"},   {21, "sgsnSMORecord"}, {22, "sgsnSMTRecord"},
    {76, "sgsnMBMSRecord"}, {77, "ggsnMBMSRecord"}, {84, "sGWRecord"},     {85, "pGWRecord"},
    {86, "gwMBMSRecord"},   {92, "tDFRecord"},      {95, "iPERecord"},     {96, "ePDGRecord"},
    {97, "tWAGRecord"},
};

// > CauseForRecClosing ::= INTEGER
constexpr Named kCauses[] = {
    {0, "normalRelease"},
    {1, "partialRecord"},
    {4, "abnormalRelease"},
    {5, "cAMELInitCallRelease"},
    {16, "volumeLimit"},
    {17, "timeLimit"},
    {18, "servingNodeChange"},
    {19, "maxChangeCond"},
    {20, "managementIntervention"},
    {21, "intraSGSNIntersystemChange"},
    {22, "rATChange"},
    {23, "mSTimeZoneChange"},
    {24, "sGSNPLMNIDChange"},
    {25, "sGWChange"},
    {26, "aPNAMBRChange"},
    {27, "mOExceptionDataCounterReceipt"},
    {52, "unauthorizedRequestingNetwork"},
    {53, "unauthorizedLCSClient"},
    {54, "positionMethodFailure"},
    {58, "unknownOrUnreachableLCSClient"},
    {59, "listofDownstreamNodeChange"},
};

// > ChangeCondition ::= ENUMERATED
constexpr Named kChangeConditions[] = {
    {0, "qoSChange"},
    {1, "tariffTime"},
    {2, "recordClosure"},
    {6, "cGI-SAICHange"},
    {7, "rAIChange"},
    {8, "dT-Establishment"},
    {9, "dT-Removal"},
    {10, "eCGIChange"},
    {11, "tAIChange"},
    {12, "userLocationChange"},
    {13, "userCSGInformationChange"},
    {14, "presenceInPRAChange"},
    {15, "removalOfAccess"},
    {16, "unusabilityOfAccess"},
    {17, "indirectChangeCondition"},
    {18, "userPlaneToUEChange"},
    {19, "servingPLMNRateControlChange"},
    {20, "threeGPPPSDataOffStatusChange"},
    {21, "aPNRateControlChange"},
};

constexpr Named kServingNodeTypes[] = {
    {0, "sGSN"}, {1, "pMIPSGW"}, {2, "gTPSGW"}, {3, "ePDG"}, {4, "hSGW"}, {5, "mME"}, {6, "tWAN"},
};

constexpr Named kApnSelectionModes[] = {
    {0, "mSorNetworkProvidedSubscriptionVerified"},
    {1, "mSProvidedSubscriptionNotVerified"},
    {2, "networkProvidedSubscriptionNotVerified"},
};

constexpr Named kChChSelectionModes[] = {
    {0, "servingNodeSupplied"}, {1, "subscriptionSpecific"}, {2, "aPNSpecific"},
    {3, "homeDefault"},         {4, "roamingDefault"},       {5, "visitingDefault"},
    {6, "fixedDefault"},
};

// > RATType: 1:1 copy of the TS 29.061 RAT type
constexpr Named kRatTypes[] = {
    {0, "reserved"},      {1, "UTRAN"},          {2, "GERAN"},         {3, "WLAN"},
    {4, "GAN"},           {5, "HSPA Evolution"}, {6, "EUTRAN"},        {7, "Virtual"},
    {8, "EUTRAN-NB-IoT"}, {9, "LTE-M"},          {10, "NR"},           {101, "IEEE 802.16e"},
    {102, "3GPP2 eHRPD"}, {103, "3GPP2 HRPD"},   {104, "3GPP2 1xRTT"}, {105, "3GPP2 UMB"},
};

constexpr const char* kServiceConditionBits[] = {
    "qoSChange",
    "sGSNChange",
    "sGSNPLMNIDChange",
    "tariffTimeSwitch",
    "pDPContextRelease",
    "rATChange",
    "serviceIdledOut",
    "reserved",
    "configurationChange",
    "serviceStop",
    "dCCATimeThresholdReached",
    "dCCAVolumeThresholdReached",
    "dCCAServiceSpecificUnitThresholdReached",
    "dCCATimeExhausted",
    "dCCAVolumeExhausted",
    "dCCAValidityTimeout",
    "reserved1",
    "dCCAReauthorisationRequest",
    "dCCAContinueOngoingSession",
    "dCCARetryAndTerminateOngoingSession",
    "dCCATerminateOngoingSession",
    "cGI-SAIChange",
    "rAIChange",
    "dCCAServiceSpecificUnitExhausted",
    "recordClosure",
    "timeLimit",
    "volumeLimit",
    "serviceSpecificUnitLimit",
    "envelopeClosure",
    "eCGIChange",
    "tAIChange",
    "userLocationChange",
    "userCSGInformationChange",
    "presenceInPRAChange",
    "accessChangeOfSDF",
    "indirectServiceConditionChange",
    "servingPLMNRateControlChange",
    "aPNRateControlChange",
};
constexpr int kServiceConditionBitCount =
    sizeof(kServiceConditionBits) / sizeof(kServiceConditionBits[0]);

constexpr const char* kDiagnosticsChoices[] = {
    "gsm0408Cause",
    "gsm0902MapErrorValue",
    "itu-tQ767Cause",
    "networkSpecificCause",
    "manufacturerSpecificCause",
    "positionMethodFailureCause",
    "unauthorizedLCSClientCause",
    "diameterResultCodeAndExperimentalResult",
};

template <size_t N>
std::string named(const Named (&table)[N], int64_t v) {
  for (const Named& n : table) {
    if (n.value == v) {
      return std::string(n.name) + " (" + std::to_string(v) + ")";
    }
  }
  return "unknown (" + std::to_string(v) + ")";
}

// ---------------------------------------------------------------------------------------------
// Field tables

enum class Kind : uint8_t {
  kHex,       // OCTET STRING or anything not interpreted: hex of the contents
  kText,      // IA5String
  kUnsigned,  // INTEGER >= 0
  kInteger,   // INTEGER
  kBoolean,
  kNull,
  kRecordType,
  kCause,
  kTbcd,  // IMSI, IMEI
  kMsisdn,
  kGsnAddress,  // [n] GSNAddress (explicit CHOICE)
  kGsnList,     // [n] SEQUENCE OF GSNAddress
  kPdpAddress,  // [n] PDPAddress
  kPdpType,
  kTimeStamp,
  kApnSelectionMode,
  kChChSelectionMode,
  kPlmnId,
  kRatType,
  kMsTimeZone,
  kTrafficList,
  kServiceList,
  kServingNodeTypes,
  kEpcQos,
  kDiagnostics,
  kServiceConditionChange,
  kChangeCondition,
};

struct Field {
  uint32_t tag;
  const char* name;
  Kind kind;
};

// > PGWRecord ::= SET (TS 32.298 V16.11.0)
constexpr Field kPgwFields[] = {
    {0, "recordType", Kind::kRecordType},
    {3, "servedIMSI", Kind::kTbcd},
    {4, "p-GWAddress", Kind::kGsnAddress},
    {5, "chargingID", Kind::kUnsigned},
    {6, "servingNodeAddress", Kind::kGsnList},
    {7, "accessPointNameNI", Kind::kText},
    {8, "pdpPDNType", Kind::kPdpType},
    {9, "servedPDPPDNAddress", Kind::kPdpAddress},
    {11, "dynamicAddressFlag", Kind::kBoolean},
    {12, "listOfTrafficVolumes", Kind::kTrafficList},
    {13, "recordOpeningTime", Kind::kTimeStamp},
    {14, "duration", Kind::kUnsigned},
    {15, "causeForRecClosing", Kind::kCause},
    {16, "diagnostics", Kind::kDiagnostics},
    {17, "recordSequenceNumber", Kind::kInteger},
    {18, "nodeID", Kind::kText},
    {19, "recordExtensions", Kind::kHex},
    {20, "localSequenceNumber", Kind::kUnsigned},
    {21, "apnSelectionMode", Kind::kApnSelectionMode},
    {22, "servedMSISDN", Kind::kMsisdn},
    {23, "chargingCharacteristics", Kind::kHex},
    {24, "chChSelectionMode", Kind::kChChSelectionMode},
    {25, "iMSsignalingContext", Kind::kNull},
    {27, "servingNodePLMNIdentifier", Kind::kPlmnId},
    {28, "pSFurnishChargingInformation", Kind::kHex},
    {29, "servedIMEI", Kind::kTbcd},
    {30, "rATType", Kind::kRatType},
    {31, "mSTimeZone", Kind::kMsTimeZone},
    {32, "userLocationInformation", Kind::kHex},
    {33, "cAMELChargingInformation", Kind::kHex},
    {34, "listOfServiceData", Kind::kServiceList},
    {35, "servingNodeType", Kind::kServingNodeTypes},
    {36, "servedMNNAI", Kind::kHex},
    {37, "p-GWPLMNIdentifier", Kind::kPlmnId},
    {38, "startTime", Kind::kTimeStamp},
    {39, "stopTime", Kind::kTimeStamp},
    {40, "served3gpp2MEID", Kind::kHex},
    {41, "pDNConnectionChargingID", Kind::kUnsigned},
    {42, "iMSIunauthenticatedFlag", Kind::kNull},
    {43, "userCSGInformation", Kind::kHex},
    {44, "threeGPP2UserLocationInformation", Kind::kHex},
    {45, "servedPDPPDNAddressExt", Kind::kPdpAddress},
    {46, "lowPriorityIndicator", Kind::kNull},
    {47, "dynamicAddressFlagExt", Kind::kBoolean},
    {49, "servingNodeiPv6Address", Kind::kGsnList},
    {50, "p-GWiPv6AddressUsed", Kind::kGsnAddress},
    {51, "tWANUserLocationInformation", Kind::kHex},
    {52, "retransmission", Kind::kNull},
    {53, "userLocationInfoTime", Kind::kTimeStamp},
    {54, "cNOperatorSelectionEnt", Kind::kInteger},
    {55, "ePCQoSInformation", Kind::kEpcQos},
    {56, "presenceReportingAreaInfo", Kind::kHex},
    {57, "lastUserLocationInformation", Kind::kHex},
    {58, "lastMSTimeZone", Kind::kMsTimeZone},
    {59, "enhancedDiagnostics", Kind::kHex},
    {60, "nBIFOMMode", Kind::kInteger},
    {61, "nBIFOMSupport", Kind::kInteger},
    {62, "uWANUserLocationInformation", Kind::kHex},
    {64, "sGiPtPTunnellingMethod", Kind::kInteger},
    {65, "uNIPDUCPOnlyFlag", Kind::kBoolean},
    {66, "servingPLMNRateControl", Kind::kHex},
    {67, "aPNRateControl", Kind::kHex},
    {68, "pDPPDNTypeExtension", Kind::kInteger},
    {69, "mOExceptionDataCounter", Kind::kHex},
    {70, "chargingPerIPCANSessionIndicator", Kind::kInteger},
    {71, "threeGPPPSDataOffStatus", Kind::kInteger},
    {72, "sCSASAddress", Kind::kHex},
    {73, "listOfRANSecondaryRATUsageReports", Kind::kHex},
};

// > SGWRecord ::= SET
constexpr Field kSgwFields[] = {
    {0, "recordType", Kind::kRecordType},
    {3, "servedIMSI", Kind::kTbcd},
    {4, "s-GWAddress", Kind::kGsnAddress},
    {5, "chargingID", Kind::kUnsigned},
    {6, "servingNodeAddress", Kind::kGsnList},
    {7, "accessPointNameNI", Kind::kText},
    {8, "pdpPDNType", Kind::kPdpType},
    {9, "servedPDPPDNAddress", Kind::kPdpAddress},
    {11, "dynamicAddressFlag", Kind::kBoolean},
    {12, "listOfTrafficVolumes", Kind::kTrafficList},
    {13, "recordOpeningTime", Kind::kTimeStamp},
    {14, "duration", Kind::kUnsigned},
    {15, "causeForRecClosing", Kind::kCause},
    {16, "diagnostics", Kind::kDiagnostics},
    {17, "recordSequenceNumber", Kind::kInteger},
    {18, "nodeID", Kind::kText},
    {19, "recordExtensions", Kind::kHex},
    {20, "localSequenceNumber", Kind::kUnsigned},
    {21, "apnSelectionMode", Kind::kApnSelectionMode},
    {22, "servedMSISDN", Kind::kMsisdn},
    {23, "chargingCharacteristics", Kind::kHex},
    {24, "chChSelectionMode", Kind::kChChSelectionMode},
    {25, "iMSsignalingContext", Kind::kNull},
    {27, "servingNodePLMNIdentifier", Kind::kPlmnId},
    {29, "servedIMEI", Kind::kTbcd},
    {30, "rATType", Kind::kRatType},
    {31, "mSTimeZone", Kind::kMsTimeZone},
    {32, "userLocationInformation", Kind::kHex},
    {34, "sGWChange", Kind::kBoolean},
    {35, "servingNodeType", Kind::kServingNodeTypes},
    {36, "p-GWAddressUsed", Kind::kGsnAddress},
    {37, "p-GWPLMNIdentifier", Kind::kPlmnId},
    {38, "startTime", Kind::kTimeStamp},
    {39, "stopTime", Kind::kTimeStamp},
    {40, "pDNConnectionChargingID", Kind::kUnsigned},
    {41, "iMSIunauthenticatedFlag", Kind::kNull},
    {42, "userCSGInformation", Kind::kHex},
    {43, "servedPDPPDNAddressExt", Kind::kPdpAddress},
    {44, "lowPriorityIndicator", Kind::kNull},
    {47, "dynamicAddressFlagExt", Kind::kBoolean},
    {48, "s-GWiPv6Address", Kind::kGsnAddress},
    {49, "servingNodeiPv6Address", Kind::kGsnList},
    {50, "p-GWiPv6AddressUsed", Kind::kGsnAddress},
    {51, "retransmission", Kind::kNull},
    {52, "userLocationInfoTime", Kind::kTimeStamp},
    {53, "cNOperatorSelectionEnt", Kind::kInteger},
    {54, "presenceReportingAreaInfo", Kind::kHex},
    {55, "lastUserLocationInformation", Kind::kHex},
    {56, "lastMSTimeZone", Kind::kMsTimeZone},
    {57, "enhancedDiagnostics", Kind::kHex},
    {59, "cPCIoTEPSOptimisationIndicator", Kind::kBoolean},
    {60, "uNIPDUCPOnlyFlag", Kind::kBoolean},
    {61, "servingPLMNRateControl", Kind::kHex},
    {62, "pDPPDNTypeExtension", Kind::kInteger},
    {63, "mOExceptionDataCounter", Kind::kHex},
    {64, "listOfRANSecondaryRATUsageReports", Kind::kHex},
};

// > ChangeOfCharCondition ::= SEQUENCE
constexpr Field kTrafficFields[] = {
    {1, "qosRequested", Kind::kHex},
    {2, "qosNegotiated", Kind::kHex},
    {3, "dataVolumeGPRSUplink", Kind::kUnsigned},
    {4, "dataVolumeGPRSDownlink", Kind::kUnsigned},
    {5, "changeCondition", Kind::kChangeCondition},
    {6, "changeTime", Kind::kTimeStamp},
    {8, "userLocationInformation", Kind::kHex},
    {9, "ePCQoSInformation", Kind::kEpcQos},
    {10, "chargingID", Kind::kUnsigned},
    {11, "presenceReportingAreaStatus", Kind::kInteger},
    {12, "userCSGInformation", Kind::kHex},
    {13, "diagnostics", Kind::kDiagnostics},
    {14, "enhancedDiagnostics", Kind::kHex},
    {15, "rATType", Kind::kRatType},
    {16, "accessAvailabilityChangeReason", Kind::kHex},
    {17, "uWANUserLocationInformation", Kind::kHex},
    {18, "relatedChangeOfCharCondition", Kind::kHex},
    {19, "cPCIoTEPSOptimisationIndicator", Kind::kBoolean},
    {20, "servingPLMNRateControl", Kind::kHex},
    {21, "threeGPPPSDataOffStatus", Kind::kInteger},
    {22, "listOfPresenceReportingAreaInformation", Kind::kHex},
    {23, "aPNRateControl", Kind::kHex},
};

// > ChangeOfServiceCondition ::= SEQUENCE
constexpr Field kServiceFields[] = {
    {1, "ratingGroup", Kind::kUnsigned},
    {2, "chargingRuleBaseName", Kind::kText},
    {3, "resultCode", Kind::kInteger},
    {4, "localSequenceNumber", Kind::kUnsigned},
    {5, "timeOfFirstUsage", Kind::kTimeStamp},
    {6, "timeOfLastUsage", Kind::kTimeStamp},
    {7, "timeUsage", Kind::kUnsigned},
    {8, "serviceConditionChange", Kind::kServiceConditionChange},
    {9, "qoSInformationNeg", Kind::kEpcQos},
    {10, "servingNodeAddress", Kind::kGsnAddress},
    {12, "datavolumeFBCUplink", Kind::kUnsigned},
    {13, "datavolumeFBCDownlink", Kind::kUnsigned},
    {14, "timeOfReport", Kind::kTimeStamp},
    {16, "failureHandlingContinue", Kind::kBoolean},
    {17, "serviceIdentifier", Kind::kUnsigned},
    {18, "pSFurnishChargingInformation", Kind::kHex},
    {19, "aFRecordInformation", Kind::kHex},
    {20, "userLocationInformation", Kind::kHex},
    {21, "eventBasedChargingInformation", Kind::kHex},
    {22, "timeQuotaMechanism", Kind::kHex},
    {23, "serviceSpecificInfo", Kind::kHex},
    {24, "threeGPP2UserLocationInformation", Kind::kHex},
    {25, "sponsorIdentity", Kind::kHex},
    {26, "applicationServiceProviderIdentity", Kind::kHex},
    {27, "aDCRuleBaseName", Kind::kText},
    {28, "presenceReportingAreaStatus", Kind::kInteger},
    {29, "userCSGInformation", Kind::kHex},
    {30, "rATType", Kind::kRatType},
    {32, "uWANUserLocationInformation", Kind::kHex},
    {33, "relatedChangeOfServiceCondition", Kind::kHex},
    {35, "servingPLMNRateControl", Kind::kHex},
    {36, "aPNRateControl", Kind::kHex},
    {37, "threeGPPPSDataOffStatus", Kind::kInteger},
    {38, "trafficSteeringPolicyIDDownlink", Kind::kHex},
    {39, "trafficSteeringPolicyIDUplink", Kind::kHex},
    {40, "tWANUserLocationInformation", Kind::kHex},
    {41, "listOfPresenceReportingAreaInformation", Kind::kHex},
    {42, "voLTEInformation", Kind::kHex},
};

// > EPCQoSInformation ::= SEQUENCE (all INTEGER)
constexpr Field kEpcQosFields[] = {
    {1, "qCI", Kind::kInteger},
    {2, "maxRequestedBandwithUL", Kind::kInteger},
    {3, "maxRequestedBandwithDL", Kind::kInteger},
    {4, "guaranteedBitrateUL", Kind::kInteger},
    {5, "guaranteedBitrateDL", Kind::kInteger},
    {6, "aRP", Kind::kInteger},
    {7, "aPNAggregateMaxBitrateUL", Kind::kInteger},
    {8, "aPNAggregateMaxBitrateDL", Kind::kInteger},
    {9, "extendedMaxRequestedBWUL", Kind::kInteger},
    {10, "extendedMaxRequestedBWDL", Kind::kInteger},
    {11, "extendedGBRUL", Kind::kInteger},
    {12, "extendedGBRDL", Kind::kInteger},
    {13, "extendedAPNAMBRUL", Kind::kInteger},
    {14, "extendedAPNAMBRDL", Kind::kInteger},
};

template <size_t N>
const Field* findField(const Field (&table)[N], const Tag& t) {
  if (t.cls != TagClass::kContext) {
    return nullptr;
  }
  for (const Field& f : table) {
    if (f.tag == t.number) {
      return &f;
    }
  }
  return nullptr;
}

std::string tagKey(const Tag& t) {
  switch (t.cls) {
    case TagClass::kContext:
      return "[tag " + std::to_string(t.number) + "]";
    case TagClass::kUniversal:
      return "[UNIVERSAL " + std::to_string(t.number) + "]";
    case TagClass::kApplication:
      return "[APPLICATION " + std::to_string(t.number) + "]";
    default:
      return "[PRIVATE " + std::to_string(t.number) + "]";
  }
}

// ---------------------------------------------------------------------------------------------
// Value helpers shared by the JSON and the model decoders

int64_t daysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return int64_t{era} * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Stamp {
  int year, month, day, hour, minute, second, offset_min;
};

Result<Stamp> parseStamp(Bytes ts) {
  if (ts.size() != 9) {
    return Error{"TimeStamp of " + std::to_string(ts.size()) + " octets (must be 9)"};
  }
  int v[8];
  const int idx[8] = {0, 1, 2, 3, 4, 5, 7, 8};
  for (int i = 0; i < 8; ++i) {
    uint8_t b = ts[static_cast<size_t>(idx[i])];
    if ((b >> 4) > 9 || (b & 0x0F) > 9) {
      return Error{"TimeStamp octet " + std::to_string(idx[i] + 1) + " is not BCD"};
    }
    v[i] = (b >> 4) * 10 + (b & 0x0F);
  }
  if (ts[6] != '+' && ts[6] != '-') {
    return Error{"TimeStamp sign octet is not '+' or '-'"};
  }
  Stamp s{2000 + v[0], v[1], v[2], v[3], v[4], v[5], v[6] * 60 + v[7]};
  if (ts[6] == '-') {
    s.offset_min = -s.offset_min;
  }
  if (s.month < 1 || s.month > 12 || s.day < 1 || s.day > 31 || s.hour > 23 || s.minute > 59 ||
      s.second > 60 || v[6] > 23 || v[7] > 59) {
    return Error{"TimeStamp field out of range"};
  }
  return s;
}

struct IpChoice {
  IpAddress address;
  int prefix_length = -1;  // from iPBinV6AddressWithPrefix
  std::string text;        // iPTextV4Address / iPTextV6Address
};

std::string ipChoiceText(const IpChoice& c) {
  if (!c.text.empty()) {
    return c.text;
  }
  std::string s = formatIp(c.address);
  if (c.prefix_length >= 0) {
    s += "/" + std::to_string(c.prefix_length);
  }
  return s;
}

// One IPAddress CHOICE alternative (the TLV inside an explicit tag).
Result<IpChoice> decodeIpChoice(const Tlv& t) {
  IpChoice c;
  if (t.tag.cls != TagClass::kContext) {
    return Error{"IPAddress alternative " + tagKey(t.tag) + " unknown"};
  }
  switch (t.tag.number) {
    case 0:  // iPBinV4Address
      if (t.tag.constructed || t.value.size() != 4) {
        return Error{"iPBinV4Address of " + std::to_string(t.value.size()) + " octets"};
      }
      c.address.family = 4;
      c.address.v4 = uint32_t{t.value[0]} << 24 | uint32_t{t.value[1]} << 16 |
                     uint32_t{t.value[2]} << 8 | t.value[3];
      return c;
    case 1:  // iPBinV6Address
      if (t.tag.constructed || t.value.size() != 16) {
        return Error{"iPBinV6Address of " + std::to_string(t.value.size()) + " octets"};
      }
      c.address.family = 6;
      c.address.v6 = loadIp6(t.value.data());
      return c;
    case 2:  // iPTextV4Address
    case 3:  // iPTextV6Address
      if (t.tag.constructed) {
        return Error{"constructed iPTextAddress"};
      }
      for (uint8_t ch : t.value) {
        if (ch < 0x20 || ch > 0x7E) {
          return Error{"iPTextAddress is not printable"};
        }
      }
      c.text.assign(t.value.begin(), t.value.end());
      if (c.text.empty()) {
        return Error{"empty iPTextAddress"};
      }
      if (auto a = parseIpAddress(c.text)) {
        c.address = *a;
      }
      return c;
    case 4: {  // iPBinV6AddressWithPrefix: SEQUENCE { OCTET STRING (16), INTEGER DEFAULT 64 }
      if (!t.tag.constructed) {
        return Error{"primitive iPBinV6AddressWithPrefix"};
      }
      ber::BerReader r(t.value, t.offset);
      auto a = r.next();
      if (!a || a.value().tag != ber::universal(ber::kUOctetString) ||
          a.value().value.size() != 16) {
        return Error{"iPBinV6AddressWithPrefix without a 16-octet address"};
      }
      c.address.family = 6;
      c.address.v6 = loadIp6(a.value().value.data());
      c.prefix_length = 64;
      if (!r.atEnd()) {
        auto l = r.next();
        if (!l || l.value().tag != ber::universal(ber::kUInteger)) {
          return Error{"iPBinV6AddressWithPrefix: bad prefix length"};
        }
        auto v = ber::decodeInteger(l.value().value);
        if (!v || v.value() < 1 || v.value() > 128) {
          return Error{"iPBinV6AddressWithPrefix: prefix length out of range"};
        }
        c.prefix_length = static_cast<int>(v.value());
      }
      return c;
    }
    default:
      return Error{"IPAddress alternative " + tagKey(t.tag) + " unknown"};
  }
}

// An explicitly tagged CHOICE: [n] constructed holding exactly one TLV.
Result<Tlv> explicitInner(const Tlv& t) {
  if (!t.tag.constructed) {
    return Error{"primitive encoding of an explicitly tagged CHOICE"};
  }
  ber::BerReader r(t.value, t.offset + t.header_length);
  auto in = r.next();
  if (!in) {
    return in.error();
  }
  if (!r.atEnd()) {
    return Error{"more than one alternative in a CHOICE"};
  }
  return in;
}

Result<IpChoice> decodeGsnAddress(const Tlv& t) {
  auto in = explicitInner(t);
  if (!in) {
    return in.error();
  }
  return decodeIpChoice(in.value());
}

// > PDPAddress ::= CHOICE { iPAddress [0] IPAddress }: [n] { [0] { alternative } }
Result<IpChoice> decodePdpAddress(const Tlv& t) {
  auto in = explicitInner(t);
  if (!in) {
    return in.error();
  }
  if (in.value().tag != ber::ctxCons(0)) {
    return Error{"PDPAddress alternative " + tagKey(in.value().tag) + " unsupported"};
  }
  return decodeGsnAddress(in.value());
}

Result<std::vector<IpChoice>> decodeGsnList(const Tlv& t) {
  if (!t.tag.constructed) {
    return Error{"primitive SEQUENCE OF"};
  }
  std::vector<IpChoice> v;
  ber::BerReader r(t.value, t.offset + t.header_length);
  while (!r.atEnd()) {
    auto e = r.next();
    if (!e) {
      return e.error();
    }
    auto c = decodeIpChoice(e.value());
    if (!c) {
      return c.error();
    }
    v.push_back(c.value());
  }
  return v;
}

Result<std::string> msisdnDigits(Bytes v) {
  if (v.empty()) {
    return Error{"empty MSISDN"};
  }
  auto d = tbcdDigits(v.subspan(1));
  if (!d) {
    return d.error();
  }
  return d.value();
}

Result<std::string> plmnDigits(Bytes v) {
  if (v.size() != 3) {
    return Error{"PLMN-Id of " + std::to_string(v.size()) + " octets"};
  }
  int n[6] = {v[0] & 0x0F, v[0] >> 4, v[1] & 0x0F, v[2] & 0x0F, v[2] >> 4, v[1] >> 4};
  std::string s;
  for (int i = 0; i < 6; ++i) {
    if (i == 5 && n[i] == 0x0F) {
      break;
    }
    if (n[i] > 9) {
      return Error{"PLMN-Id digit is not BCD"};
    }
    s.push_back(static_cast<char>('0' + n[i]));
  }
  return s;
}

std::string invalid(const std::string& why, Bytes v) {
  return "!invalid (" + why + "): " + ber::toHex(v);
}

// ---------------------------------------------------------------------------------------------
// JSON

template <size_t N>
Json structToJson(const Tlv& t, const Field (&table)[N]);
Json valueToJson(const Tlv& t, Kind kind);

void addField(Json& obj, const std::string& key, Json value) {
  if (!obj.contains(key)) {
    obj[key] = std::move(value);
    return;
  }
  for (int i = 2;; ++i) {
    std::string k = key + " #" + std::to_string(i);
    if (!obj.contains(k)) {
      obj[k] = std::move(value);
      return;
    }
  }
}

template <size_t N>
Json structToJson(const Tlv& t, const Field (&table)[N]) {
  Json obj = Json::object();
  if (!t.tag.constructed) {
    return invalid("primitive encoding of a SET/SEQUENCE", t.value);
  }
  ber::BerReader r(t.value, t.offset + t.header_length);
  while (!r.atEnd()) {
    auto e = r.next();
    if (!e) {
      addField(obj, "!error", e.error().message);
      break;
    }
    const Field* f = findField(table, e.value().tag);
    if (f == nullptr) {
      addField(obj, tagKey(e.value().tag), ber::toHex(e.value().value));
      continue;
    }
    addField(obj, f->name, valueToJson(e.value(), f->kind));
  }
  return obj;
}

template <size_t N>
Json listToJson(const Tlv& t, const Field (&table)[N]) {
  if (!t.tag.constructed) {
    return invalid("primitive SEQUENCE OF", t.value);
  }
  Json arr = Json::array();
  ber::BerReader r(t.value, t.offset + t.header_length);
  while (!r.atEnd()) {
    auto e = r.next();
    if (!e) {
      arr.push_back(Json{{"!error", e.error().message}});
      break;
    }
    if (e.value().tag != ber::universal(ber::kUSequence, true)) {
      arr.push_back(Json{{tagKey(e.value().tag), ber::toHex(e.value().value)}});
      continue;
    }
    arr.push_back(structToJson(e.value(), table));
  }
  return arr;
}

Json valueToJson(const Tlv& t, Kind kind) {
  const Bytes v = t.value;
  const bool wants_constructed = kind == Kind::kGsnAddress || kind == Kind::kGsnList ||
                                 kind == Kind::kPdpAddress || kind == Kind::kTrafficList ||
                                 kind == Kind::kServiceList || kind == Kind::kServingNodeTypes ||
                                 kind == Kind::kEpcQos || kind == Kind::kDiagnostics;
  if (kind != Kind::kHex && t.tag.constructed != wants_constructed) {
    return invalid(
        t.tag.constructed ? "unexpected constructed encoding" : "unexpected primitive encoding", v);
  }
  switch (kind) {
    case Kind::kHex:
      return ber::toHex(v);
    case Kind::kText: {
      std::string s;
      for (uint8_t c : v) {
        if (c < 0x20 || c > 0x7E) {
          return invalid("not printable IA5String", v);
        }
        s.push_back(static_cast<char>(c));
      }
      return s;
    }
    case Kind::kUnsigned: {
      auto x = ber::decodeUnsigned(v);
      return x ? Json(x.value()) : Json(invalid(x.error().message, v));
    }
    case Kind::kInteger: {
      auto x = ber::decodeInteger(v);
      return x ? Json(x.value()) : Json(invalid(x.error().message, v));
    }
    case Kind::kBoolean: {
      auto x = ber::decodeBoolean(v);
      return x ? Json(x.value()) : Json(invalid(x.error().message, v));
    }
    case Kind::kNull:
      return v.empty() ? Json(nullptr) : Json(invalid("NULL with contents", v));
    case Kind::kRecordType:
    case Kind::kCause:
    case Kind::kChangeCondition:
    case Kind::kApnSelectionMode:
    case Kind::kChChSelectionMode:
    case Kind::kRatType: {
      auto x = ber::decodeInteger(v);
      if (!x) {
        return invalid(x.error().message, v);
      }
      switch (kind) {
        case Kind::kRecordType:
          return named(kRecordTypes, x.value());
        case Kind::kCause:
          return named(kCauses, x.value());
        case Kind::kChangeCondition:
          return named(kChangeConditions, x.value());
        case Kind::kApnSelectionMode:
          return named(kApnSelectionModes, x.value());
        case Kind::kChChSelectionMode:
          return named(kChChSelectionModes, x.value());
        default:
          return named(kRatTypes, x.value());
      }
    }
    case Kind::kTbcd: {
      auto d = tbcdDigits(v);
      return d ? Json(d.value()) : Json(invalid(d.error().message, v));
    }
    case Kind::kMsisdn: {
      auto d = msisdnDigits(v);
      if (!d) {
        return invalid(d.error().message, v);
      }
      if (v[0] != 0x91) {
        char nat[48];
        std::snprintf(nat, sizeof(nat), " (nature/numbering plan %02x)", v[0]);
        return d.value() + nat;
      }
      return d.value();
    }
    case Kind::kGsnAddress: {
      auto c = decodeGsnAddress(t);
      return c ? Json(ipChoiceText(c.value())) : Json(invalid(c.error().message, v));
    }
    case Kind::kPdpAddress: {
      auto c = decodePdpAddress(t);
      return c ? Json(ipChoiceText(c.value())) : Json(invalid(c.error().message, v));
    }
    case Kind::kGsnList: {
      auto l = decodeGsnList(t);
      if (!l) {
        return invalid(l.error().message, v);
      }
      Json arr = Json::array();
      for (const IpChoice& c : l.value()) {
        arr.push_back(ipChoiceText(c));
      }
      return arr;
    }
    case Kind::kPdpType: {
      if (v.size() != 2) {
        return invalid("PDPType of " + std::to_string(v.size()) + " octets", v);
      }
      const char* name = nullptr;
      if ((v[0] & 0x0F) == 1) {
        name = v[1] == 0x21 ? "IPv4" : v[1] == 0x57 ? "IPv6" : v[1] == 0x8D ? "IPv4v6" : nullptr;
      }
      return name ? std::string(name) + " (" + ber::toHex(v) + ")" : ber::toHex(v);
    }
    case Kind::kTimeStamp: {
      auto s = timeStampText(v);
      return s ? Json(s.value()) : Json(invalid(s.error().message, v));
    }
    case Kind::kPlmnId: {
      auto d = plmnDigits(v);
      if (!d) {
        return invalid(d.error().message, v);
      }
      return d.value().substr(0, 3) + "-" + d.value().substr(3);
    }
    case Kind::kMsTimeZone: {
      // > TS 29.060 / TS 24.008 time zone: quarters of an hour, swapped BCD, bit 4 of octet 1
      // > = sign; octet 2 = daylight saving adjustment
      if (v.size() != 2) {
        return invalid("MSTimeZone of " + std::to_string(v.size()) + " octets", v);
      }
      int tens = v[0] & 0x07;
      int units = v[0] >> 4;
      if (units > 9) {
        return invalid("MSTimeZone is not BCD", v);
      }
      int q = tens * 10 + units;
      char buf[48];
      std::snprintf(buf, sizeof(buf), "%c%02d:%02d (DST +%dh)", (v[0] & 0x08) ? '-' : '+', q / 4,
                    (q % 4) * 15, v[1] & 0x03);
      return std::string(buf);
    }
    case Kind::kTrafficList:
      return listToJson(t, kTrafficFields);
    case Kind::kServiceList:
      return listToJson(t, kServiceFields);
    case Kind::kEpcQos:
      return structToJson(t, kEpcQosFields);
    case Kind::kServingNodeTypes: {
      Json arr = Json::array();
      ber::BerReader r(v, t.offset + t.header_length);
      while (!r.atEnd()) {
        auto e = r.next();
        if (!e) {
          return invalid(e.error().message, v);
        }
        auto x = ber::decodeInteger(e.value().value);
        if (e.value().tag != ber::universal(ber::kUEnumerated) || !x) {
          arr.push_back(invalid("not an ENUMERATED", e.value().value));
          continue;
        }
        arr.push_back(named(kServingNodeTypes, x.value()));
      }
      return arr;
    }
    case Kind::kDiagnostics: {
      auto in = explicitInner(t);
      if (!in) {
        return invalid(in.error().message, v);
      }
      const Tlv& d = in.value();
      Json obj = Json::object();
      std::string key = d.tag.cls == TagClass::kContext && d.tag.number < 8
                            ? kDiagnosticsChoices[d.tag.number]
                            : tagKey(d.tag);
      auto x = ber::decodeInteger(d.value);
      bool integer_alt = d.tag.cls == TagClass::kContext && !d.tag.constructed &&
                         (d.tag.number <= 2 || d.tag.number == 7);
      if (integer_alt && x) {
        obj[key] = x.value();
      } else {
        obj[key] = ber::toHex(d.value);
      }
      return obj;
    }
    case Kind::kServiceConditionChange: {
      auto bits = ber::decodeNamedBits(v);
      if (!bits) {
        return invalid(bits.error().message, v);
      }
      Json arr = Json::array();
      for (int b = 0; b < 64; ++b) {
        if (bits.value() & (uint64_t{1} << b)) {
          arr.push_back(b < kServiceConditionBitCount ? std::string(kServiceConditionBits[b])
                                                      : "bit " + std::to_string(b));
        }
      }
      return arr;
    }
  }
  return ber::toHex(v);
}

// ---------------------------------------------------------------------------------------------
// Model decoder

template <typename T>
Result<T> fieldError(const char* name, const std::string& why) {
  return Error{std::string(name) + ": " + why};
}

Result<int64_t> unixNs(Bytes v) {
  auto s = timeStampUnix(v);
  if (!s) {
    return s.error();
  }
  return s.value() * 1000000000;
}

Result<uint64_t> unsignedField(const Tlv& t, uint64_t max) {
  if (t.tag.constructed) {
    return Error{"constructed INTEGER"};
  }
  auto v = ber::decodeUnsigned(t.value);
  if (!v) {
    return v.error();
  }
  if (v.value() > max) {
    return Error{"value " + std::to_string(v.value()) + " out of range"};
  }
  return v.value();
}

#define TALLY_TRY_ASSIGN(lhs, expr, name)                          \
  do {                                                             \
    auto _r = (expr);                                              \
    if (!_r) {                                                     \
      return Error{std::string(name) + ": " + _r.error().message}; \
    }                                                              \
    lhs = _r.value();                                              \
  } while (0)

Result<TrafficContainer> decodeTraffic(const Tlv& t) {
  TrafficContainer c;
  bool have_cond = false;
  bool have_time = false;
  ber::BerReader r(t.value, t.offset + t.header_length);
  while (!r.atEnd()) {
    auto e = r.next();
    if (!e) {
      return e.error();
    }
    const Tlv& f = e.value();
    if (f.tag.cls != TagClass::kContext) {
      continue;
    }
    switch (f.tag.number) {
      case 3:
        TALLY_TRY_ASSIGN(c.uplink_octets, unsignedField(f, UINT64_MAX), "dataVolumeGPRSUplink");
        break;
      case 4:
        TALLY_TRY_ASSIGN(c.downlink_octets, unsignedField(f, UINT64_MAX), "dataVolumeGPRSDownlink");
        break;
      case 5: {
        uint64_t v = 0;
        TALLY_TRY_ASSIGN(v, unsignedField(f, 255), "changeCondition");
        c.change_condition = static_cast<ChangeCondition>(v);
        have_cond = true;
        break;
      }
      case 6:
        TALLY_TRY_ASSIGN(c.change_time_ns, unixNs(f.value), "changeTime");
        have_time = true;
        break;
      case 9: {
        ber::BerReader q(f.value, f.offset + f.header_length);
        while (!q.atEnd()) {
          auto qe = q.next();
          if (!qe) {
            return qe.error();
          }
          if (qe.value().tag == ber::ctx(1)) {
            uint64_t v = 0;
            TALLY_TRY_ASSIGN(v, unsignedField(qe.value(), 255), "qCI");
            c.qci = static_cast<uint8_t>(v);
          } else if (qe.value().tag == ber::ctx(6)) {
            uint64_t v = 0;
            TALLY_TRY_ASSIGN(v, unsignedField(qe.value(), 255), "aRP");
            c.arp = static_cast<uint8_t>(v);
          }
        }
        break;
      }
      default:
        break;
    }
  }
  if (!have_cond || !have_time) {
    return Error{"container without changeCondition or changeTime"};
  }
  return c;
}

Result<ServiceContainer> decodeService(const Tlv& t) {
  ServiceContainer c;
  bool have_rg = false;
  bool have_scc = false;
  bool have_report = false;
  ber::BerReader r(t.value, t.offset + t.header_length);
  while (!r.atEnd()) {
    auto e = r.next();
    if (!e) {
      return e.error();
    }
    const Tlv& f = e.value();
    if (f.tag.cls != TagClass::kContext) {
      continue;
    }
    uint64_t v = 0;
    switch (f.tag.number) {
      case 1:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "ratingGroup");
        c.rating_group = static_cast<uint32_t>(v);
        have_rg = true;
        break;
      case 2:
        c.charging_rule_base_name.assign(f.value.begin(), f.value.end());
        break;
      case 4:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "localSequenceNumber");
        c.local_sequence_number = static_cast<uint32_t>(v);
        break;
      case 5:
        TALLY_TRY_ASSIGN(c.time_of_first_usage_ns, unixNs(f.value), "timeOfFirstUsage");
        break;
      case 6:
        TALLY_TRY_ASSIGN(c.time_of_last_usage_ns, unixNs(f.value), "timeOfLastUsage");
        break;
      case 7:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "timeUsage");
        c.time_usage_s = static_cast<uint32_t>(v);
        break;
      case 8:
        TALLY_TRY_ASSIGN(c.service_condition_change, ber::decodeNamedBits(f.value),
                         "serviceConditionChange");
        have_scc = true;
        break;
      case 10: {
        IpChoice ip;
        TALLY_TRY_ASSIGN(ip, decodeGsnAddress(f), "servingNodeAddress");
        c.serving_node = ip.address;
        break;
      }
      case 12:
        TALLY_TRY_ASSIGN(c.uplink_octets, unsignedField(f, UINT64_MAX), "datavolumeFBCUplink");
        break;
      case 13:
        TALLY_TRY_ASSIGN(c.downlink_octets, unsignedField(f, UINT64_MAX), "datavolumeFBCDownlink");
        break;
      case 14:
        TALLY_TRY_ASSIGN(c.time_of_report_ns, unixNs(f.value), "timeOfReport");
        have_report = true;
        break;
      case 17:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "serviceIdentifier");
        c.service_identifier = static_cast<uint32_t>(v);
        break;
      default:
        break;
    }
  }
  if (!have_rg || !have_scc || !have_report) {
    return Error{"container without ratingGroup, serviceConditionChange or timeOfReport"};
  }
  return c;
}

}  // namespace

Result<std::string> tbcdDigits(Bytes v) {
  std::string s;
  s.reserve(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint8_t lo = v[i] & 0x0F;
    uint8_t hi = v[i] >> 4;
    if (lo > 9) {
      return Error{"TBCD digit " + std::to_string(lo) + " is not a digit"};
    }
    s.push_back(static_cast<char>('0' + lo));
    if (hi == 0x0F) {
      if (i + 1 != v.size()) {
        return Error{"TBCD filler before the last octet"};
      }
      break;
    }
    if (hi > 9) {
      return Error{"TBCD digit " + std::to_string(hi) + " is not a digit"};
    }
    s.push_back(static_cast<char>('0' + hi));
  }
  return s;
}

Result<std::string> timeStampText(Bytes ts) {
  auto s = parseStamp(ts);
  if (!s) {
    return s.error();
  }
  const Stamp& t = s.value();
  return localTimeText(
      LocalTime{t.year, t.month, t.day, t.hour, t.minute, t.second, t.offset_min * 60});
}

Result<int64_t> timeStampUnix(Bytes ts) {
  auto s = parseStamp(ts);
  if (!s) {
    return s.error();
  }
  const Stamp& t = s.value();
  int64_t local =
      daysFromCivil(t.year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day)) * 86400 +
      t.hour * 3600 + t.minute * 60 + t.second;
  return local - int64_t{t.offset_min} * 60;
}

Result<nlohmann::ordered_json> decodeRecordToJson(Bytes data) {
  ber::BerReader r(data);
  auto rec = r.next();
  if (!rec) {
    return rec.error();
  }
  if (!r.atEnd()) {
    return Error{"offset " + std::to_string(r.position()) + ": " +
                 std::to_string(data.size() - r.position()) + " octets after the record"};
  }
  const Tlv& t = rec.value();
  if (t.tag == ber::ctxCons(kGprsRecordPgwTag)) {
    return structToJson(t, kPgwFields);
  }
  if (t.tag == ber::ctxCons(kGprsRecordSgwTag)) {
    return structToJson(t, kSgwFields);
  }
  Json obj = Json::object();
  obj["unknownRecord"] = tagKey(t.tag);
  obj["hex"] = ber::toHex(t.value);
  return obj;
}

Result<PgwRecord> decodePgwRecord(Bytes data) {
  ber::BerReader top(data);
  auto rec = top.next();
  if (!rec) {
    return rec.error();
  }
  if (!top.atEnd()) {
    return Error{"trailing octets after the record"};
  }
  if (rec.value().tag != ber::ctxCons(kGprsRecordPgwTag)) {
    return Error{"not a pGWRecord [79] (" + tagKey(rec.value().tag) + ")"};
  }
  PgwRecord p;
  p.dynamic_address = false;
  p.charging_characteristics = 0;
  uint32_t seen = 0;  // mandatory fields found, one bit each
  enum : uint32_t {
    kSeenType = 1,
    kSeenPgw = 2,
    kSeenCid = 4,
    kSeenNodes = 8,
    kSeenOpen = 16,
    kSeenDur = 32,
    kSeenCause = 64,
    kSeenCc = 128,
    kSeenTypes = 256,
  };
  const Tlv& rt = rec.value();
  ber::BerReader r(rt.value, rt.offset + rt.header_length);
  while (!r.atEnd()) {
    auto e = r.next();
    if (!e) {
      return e.error();
    }
    const Tlv& f = e.value();
    if (f.tag.cls != TagClass::kContext) {
      continue;
    }
    uint64_t v = 0;
    switch (f.tag.number) {
      case 0:
        TALLY_TRY_ASSIGN(v, unsignedField(f, 255), "recordType");
        if (v != static_cast<uint64_t>(kRecordTypePgw)) {
          return Error{"recordType " + std::to_string(v) + " is not pGWRecord (85)"};
        }
        seen |= kSeenType;
        break;
      case 3:
        TALLY_TRY_ASSIGN(p.imsi, tbcdDigits(f.value), "servedIMSI");
        break;
      case 4: {
        IpChoice c;
        TALLY_TRY_ASSIGN(c, decodeGsnAddress(f), "p-GWAddress");
        p.pgw_address = c.address;
        seen |= kSeenPgw;
        break;
      }
      case 5:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "chargingID");
        p.charging_id = static_cast<uint32_t>(v);
        seen |= kSeenCid;
        break;
      case 6: {
        std::vector<IpChoice> l;
        TALLY_TRY_ASSIGN(l, decodeGsnList(f), "servingNodeAddress");
        for (const IpChoice& c : l) {
          p.serving_nodes.push_back(c.address);
        }
        seen |= kSeenNodes;
        break;
      }
      case 7:
        p.apn.assign(f.value.begin(), f.value.end());
        break;
      case 9: {
        IpChoice c;
        TALLY_TRY_ASSIGN(c, decodePdpAddress(f), "servedPDPPDNAddress");
        p.served_address = c.address;
        if (c.address.family == 6) {
          // > PDPAddressPrefixLength: the default value is 64 bits
          p.served_prefix_length =
              static_cast<uint8_t>(c.prefix_length >= 0 ? c.prefix_length : 64);
        }
        break;
      }
      case 11:
        TALLY_TRY_ASSIGN(p.dynamic_address, ber::decodeBoolean(f.value), "dynamicAddressFlag");
        break;
      case 12: {
        ber::BerReader l(f.value, f.offset + f.header_length);
        while (!l.atEnd()) {
          auto c = l.next();
          if (!c) {
            return Error{"listOfTrafficVolumes: " + c.error().message};
          }
          TrafficContainer tc;
          TALLY_TRY_ASSIGN(tc, decodeTraffic(c.value()), "listOfTrafficVolumes");
          p.traffic_volumes.push_back(tc);
        }
        break;
      }
      case 13:
        TALLY_TRY_ASSIGN(p.record_opening_time_ns, unixNs(f.value), "recordOpeningTime");
        seen |= kSeenOpen;
        break;
      case 14:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "duration");
        p.duration_s = static_cast<uint32_t>(v);
        seen |= kSeenDur;
        break;
      case 15:
        TALLY_TRY_ASSIGN(v, unsignedField(f, 255), "causeForRecClosing");
        p.cause = static_cast<Cause>(v);
        seen |= kSeenCause;
        break;
      case 16: {
        // Diagnostics CHOICE (explicit): the model carries gsm0408Cause [0] only.
        ber::BerReader d(f.value, f.offset + f.header_length);
        auto c = d.next();
        if (!c) {
          return Error{"diagnostics: " + c.error().message};
        }
        if (c.value().tag.number == 0 && !c.value().tag.constructed) {
          TALLY_TRY_ASSIGN(v, unsignedField(c.value(), 255), "diagnostics gsm0408Cause");
          p.diagnostics_gsm0408_cause = static_cast<uint8_t>(v);
        }
        break;
      }
      case 17:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "recordSequenceNumber");
        p.record_sequence_number = static_cast<uint32_t>(v);
        break;
      case 18:
        p.node_id.assign(f.value.begin(), f.value.end());
        break;
      case 20:
        TALLY_TRY_ASSIGN(p.local_sequence_number, unsignedField(f, UINT32_MAX),
                         "localSequenceNumber");
        break;
      case 21:
        TALLY_TRY_ASSIGN(v, unsignedField(f, 255), "apnSelectionMode");
        p.apn_selection_mode = static_cast<ApnSelectionMode>(v);
        break;
      case 22:
        TALLY_TRY_ASSIGN(p.msisdn, msisdnDigits(f.value), "servedMSISDN");
        break;
      case 23:
        if (f.value.size() != 2) {
          return Error{"chargingCharacteristics of " + std::to_string(f.value.size()) + " octets"};
        }
        p.charging_characteristics = static_cast<uint16_t>(f.value[0] << 8 | f.value[1]);
        seen |= kSeenCc;
        break;
      case 24:
        TALLY_TRY_ASSIGN(v, unsignedField(f, 255), "chChSelectionMode");
        p.ch_ch_selection_mode = static_cast<ChChSelectionMode>(v);
        break;
      case 27:
        TALLY_TRY_ASSIGN(p.serving_node_plmn_id, plmnDigits(f.value), "servingNodePLMNIdentifier");
        break;
      case 30:
        TALLY_TRY_ASSIGN(v, unsignedField(f, 255), "rATType");
        p.rat_type = static_cast<uint8_t>(v);
        break;
      case 31:
        if (f.value.size() != 2) {
          return Error{"mSTimeZone of " + std::to_string(f.value.size()) + " octets"};
        }
        p.ms_time_zone = std::array<uint8_t, 2>{f.value[0], f.value[1]};
        break;
      case 32:
        p.user_location_information.assign(f.value.begin(), f.value.end());
        break;
      case 34: {
        ber::BerReader l(f.value, f.offset + f.header_length);
        while (!l.atEnd()) {
          auto c = l.next();
          if (!c) {
            return Error{"listOfServiceData: " + c.error().message};
          }
          ServiceContainer sc;
          TALLY_TRY_ASSIGN(sc, decodeService(c.value()), "listOfServiceData");
          p.service_data.push_back(sc);
        }
        break;
      }
      case 35: {
        ber::BerReader l(f.value, f.offset + f.header_length);
        while (!l.atEnd()) {
          auto c = l.next();
          if (!c) {
            return Error{"servingNodeType: " + c.error().message};
          }
          TALLY_TRY_ASSIGN(v, unsignedField(c.value(), 255), "servingNodeType");
          p.serving_node_types.push_back(static_cast<ServingNodeType>(v));
        }
        seen |= kSeenTypes;
        break;
      }
      case 37:
        TALLY_TRY_ASSIGN(p.pgw_plmn_id, plmnDigits(f.value), "p-GWPLMNIdentifier");
        break;
      case 38: {
        int64_t ns = 0;
        TALLY_TRY_ASSIGN(ns, unixNs(f.value), "startTime");
        p.start_time_ns = ns;
        break;
      }
      case 39: {
        int64_t ns = 0;
        TALLY_TRY_ASSIGN(ns, unixNs(f.value), "stopTime");
        p.stop_time_ns = ns;
        break;
      }
      case 41:
        TALLY_TRY_ASSIGN(v, unsignedField(f, UINT32_MAX), "pDNConnectionChargingID");
        p.pdn_connection_charging_id = static_cast<uint32_t>(v);
        break;
      default:
        break;
    }
  }
  static constexpr std::pair<uint32_t, const char*> kMandatory[] = {
      {kSeenType, "recordType"},          {kSeenPgw, "p-GWAddress"},
      {kSeenCid, "chargingID"},           {kSeenNodes, "servingNodeAddress"},
      {kSeenOpen, "recordOpeningTime"},   {kSeenDur, "duration"},
      {kSeenCause, "causeForRecClosing"}, {kSeenCc, "chargingCharacteristics"},
      {kSeenTypes, "servingNodeType"},
  };
  for (const auto& [bit, name] : kMandatory) {
    if ((seen & bit) == 0) {
      return Error{std::string("missing mandatory ") + name};
    }
  }
  return p;
}

#undef TALLY_TRY_ASSIGN

// ---------------------------------------------------------------------------------------------
// TS 32.297 files

namespace {

std::string headerTimeText(const HeaderTimestamp& t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02u-%02u %02u:%02u ", t.month, t.day, t.hour, t.minute);
  return buf + utcOffsetText(t.utc_offset_min);
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool parseU64(const std::string& s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

// CSV cells as JSON strings: bytes outside printable ASCII become '?'.
std::string printable(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) {
      c = '?';
    }
  }
  return s;
}

}  // namespace

std::vector<std::string> splitCsvLine(const std::string& line, bool* ok) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  *ok = true;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (quoted) {
    *ok = false;
  }
  out.push_back(cur);
  return out;
}

nlohmann::ordered_json fileHeaderToJson(const CdrFileHeader& h) {
  Json j = Json::object();
  j["fileLength"] = h.file_length;
  j["headerLength"] = h.header_length;
  j["highReleaseVersion"] = releaseVersionText(h.high_release, h.high_version);
  j["lowReleaseVersion"] = releaseVersionText(h.low_release, h.low_version);
  j["fileOpeningTimestamp"] = headerTimeText(h.opening);
  j["lastCdrAppendTimestamp"] = headerTimeText(h.last_append);
  j["numberOfCdrs"] = h.cdr_count;
  j["fileSequenceNumber"] = h.file_sequence_number;
  j["fileClosureTriggerReason"] = std::string(closureReasonName(h.closure_reason)) + " (" +
                                  std::to_string(h.closure_reason) + ")";
  const auto& a = h.node_address;
  bool mapped_prefix = a[0] == 0xFF && a[1] == 0xFF && a[2] == 0xFF && a[3] == 0xFF;
  IpAddress node;
  bool v4 = mapped_prefix && a[14] == 0xFF && a[15] == 0xFF;
  for (size_t i = 4; i < 14 && v4; ++i) {
    v4 = a[i] == 0;
  }
  if (v4) {
    node.family = 4;
    node.v4 = uint32_t{a[16]} << 24 | uint32_t{a[17]} << 16 | uint32_t{a[18]} << 8 | a[19];
    j["nodeIpAddress"] = formatIp(node);
  } else if (mapped_prefix) {
    node.family = 6;
    node.v6 = loadIp6(a.data() + 4);
    j["nodeIpAddress"] = formatIp(node);
  } else {
    j["nodeIpAddress"] = ber::toHex(a);
  }
  j["lostCdrIndicator"] = h.lost_cdr_indicator;
  j["cdrRouteingFilter"] = ber::toHex(h.routeing_filter);
  j["privateExtension"] = ber::toHex(h.private_extension);
  return j;
}

Result<FileUsage> fileUsage(const std::string& path) {
  FileUsage u;
  // A local bill: the RADIUS fallback ledger, counted apart (docs/local-bill.md).
  auto addLocalBill = [&u](const Result<bill::LocalBill>& b) {
    if (!b) {
      ++u.undecodable;
      return;
    }
    ++u.local_bills;
    u.local_ul_octets += b.value().ul_octets;
    u.local_dl_octets += b.value().dl_octets;
  };
  if (endsWith(path, ".csv")) {
    auto data = readFileWhole(path, kMaxCdrFileSize);
    if (!data) {
      return data.error();
    }
    const std::string& d = data.value();
    size_t ul_col = SIZE_MAX, dl_col = SIZE_MAX, columns = 0;
    for (size_t start = 0, line = 0; start < d.size(); ++line) {
      size_t nl = d.find('\n', start);
      if (nl == std::string::npos) nl = d.size();  // a last line without newline still counts
      bool ok = true;
      const size_t line_start = start;
      std::vector<std::string> v = splitCsvLine(d.substr(start, nl - start), &ok);
      start = nl + 1;
      if (line == 0) {
        for (size_t c = 0; c < v.size(); ++c) {
          if (v[c] == "uplinkOctets") ul_col = c;
          if (v[c] == "downlinkOctets") dl_col = c;
        }
        if (ul_col == SIZE_MAX || dl_col == SIZE_MAX) {
          return Error{path + ": no uplinkOctets/downlinkOctets column in the header line"};
        }
        columns = v.size();
        continue;
      }
      if (ok && v.size() == columns && !v.empty() && v[0] == bill::kLocalBillCsvType) {
        addLocalBill(bill::parseCsvLocalBillLine(d.substr(line_start, nl - line_start)));
        continue;
      }
      uint64_t ul = 0, dl = 0;
      if (!ok || v.size() != columns || !parseU64(v[ul_col], ul) || !parseU64(v[dl_col], dl)) {
        ++u.undecodable;
        continue;
      }
      ++u.records;
      u.ul_octets += ul;
      u.dl_octets += dl;
    }
    return u;
  }
  auto contents = readCdrFile(path);
  if (!contents) {
    return contents.error();
  }
  for (const CdrFileRecord& r : contents.value().records) {
    if (bill::isLocalBillRecord(r.data)) {
      addLocalBill(bill::decodeLocalBill(r.data));
      continue;
    }
    auto rec = decodePgwRecord(r.data);
    if (!rec) {
      ++u.undecodable;
      continue;
    }
    ++u.records;
    for (const TrafficContainer& t : rec.value().traffic_volumes) {
      u.ul_octets += t.uplink_octets;
      u.dl_octets += t.downlink_octets;
    }
  }
  return u;
}

Result<std::vector<nlohmann::ordered_json>> decodeCdrFileToJson(const std::string& path) {
  std::vector<Json> out;
  if (endsWith(path, ".csv")) {
    auto data = readFileWhole(path, kMaxCdrFileSize);
    if (!data) {
      return data.error();
    }
    std::vector<std::string> lines;
    size_t start = 0;
    const std::string& d = data.value();
    while (start < d.size()) {
      size_t nl = d.find('\n', start);
      if (nl == std::string::npos) {
        return Error{path + ": truncated: the last line has no newline"};
      }
      lines.push_back(d.substr(start, nl - start));
      start = nl + 1;
    }
    if (lines.empty()) {
      return Error{path + ": empty CSV file (no column header line)"};
    }
    bool ok = true;
    std::vector<std::string> cols = splitCsvLine(lines[0], &ok);
    for (size_t i = 1; i < lines.size(); ++i) {
      Json j = Json::object();
      j["file"] = path;
      j["recordIndex"] = i;
      std::vector<std::string> v = splitCsvLine(lines[i], &ok);
      if (!ok || v.size() != cols.size()) {
        j["error"] = "line " + std::to_string(i + 1) + ": " + std::to_string(v.size()) +
                     " columns, the header has " + std::to_string(cols.size());
        out.push_back(std::move(j));
        continue;
      }
      if (!v.empty() && v[0] == bill::kLocalBillCsvType) {
        // A local bill's line has columns of its own (docs/local-bill.md, "CSV").
        auto b = bill::parseCsvLocalBillLine(lines[i]);
        if (!b) {
          j["error"] = "line " + std::to_string(i + 1) + ": local bill: " + b.error().message;
          out.push_back(std::move(j));
          continue;
        }
        const std::vector<std::string>& lcols = bill::localBillCsvColumns();
        for (size_t c = 0; c < lcols.size(); ++c) {
          j[lcols[c]] = printable(v[c]);
        }
        out.push_back(std::move(j));
        continue;
      }
      for (size_t c = 0; c < cols.size(); ++c) {
        j[printable(cols[c])] = printable(v[c]);
      }
      out.push_back(std::move(j));
    }
    return out;
  }
  auto file = readCdrFile(path);
  if (!file) {
    return file.error();
  }
  const CdrFileContents& f = file.value();
  for (size_t i = 0; i < f.records.size(); ++i) {
    const CdrFileRecord& rec = f.records[i];
    Json j = Json::object();
    j["file"] = path;
    j["fileSequenceNumber"] = f.header.file_sequence_number;
    j["recordIndex"] = i + 1;
    if (rec.data_record_format != kDataRecordFormatBer) {
      j["error"] =
          "data record format " + std::to_string(rec.data_record_format) + " is not BER (1)";
      j["hex"] = ber::toHex(rec.data);
      out.push_back(std::move(j));
      continue;
    }
    auto r = bill::isLocalBillRecord(rec.data) ? bill::localBillToJson(rec.data)
                                               : decodeRecordToJson(rec.data);
    if (!r) {
      j["error"] = r.error().message;
      j["hex"] = ber::toHex(rec.data);
    } else {
      for (auto it = r.value().begin(); it != r.value().end(); ++it) {
        j[it.key()] = it.value();
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::string toJsonLine(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace tally::cdr
