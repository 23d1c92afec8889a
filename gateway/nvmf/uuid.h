// UUIDs of namespaces: text form, parsing, random (version 4) and name-based (version 8)
// identifiers. Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace nvmeof {

using Uuid = std::array<uint8_t, 16>;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case hex.
std::string UuidToString(const Uuid& u);
// Accepts the 36-character form, either case; false on anything else.
bool ParseUuid(const std::string& s, Uuid* out);
// A random (version 4) UUID, from /dev/urandom.
Uuid RandomUuid();
// A name-based (version 8) UUID: the same name always gives the same UUID, across
// processes and versions (namespace identities depend on it; uuid_test pins the value).
Uuid NameUuid(const std::string& name);

}  // namespace nvmeof
