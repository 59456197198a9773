// RoomMembers: who is in a room, as this client knows it. The server's
// member list (ListMembers, fetched on join and by /names) is authoritative;
// MemberJoined/MemberLeft keep it current between fetches. Against a server
// without ListMembers, names are learned from presence events and live
// messages only, and Describe() says how many it cannot name. Used by both
// interactive modes.
//
// Thread rule: one thread. Plain value type.
#ifndef MUXCHAT_CLIENT_ROOM_MEMBERS_H_
#define MUXCHAT_CLIENT_ROOM_MEMBERS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace muxchat::client {

class RoomMembers {
 public:
  // The server's member count (from the last Reply or presence event).
  void SetCount(uint32_t count) { count_ = count; }
  // Adds or removes a name (ASCII case-insensitive, as nicknames are).
  void Add(const std::string& nick);
  void Remove(const std::string& nick);
  // The server's full list: replaces every name, and the count.
  void Replace(const std::vector<std::string>& names);

  uint32_t count() const { return count_; }
  // Known names, sorted case-insensitively (the server's order), as given.
  std::vector<std::string> Known() const;
  // "names in lobby (3): alice, bob, carol"; when the count is above the
  // names known (a server without ListMembers), "..., and 2 more (this
  // server does not list members)".
  std::string Describe(const std::string& room) const;

 private:
  uint32_t count_ = 0;
  std::map<std::string, std::string> names_;  // lower-case -> as given
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ROOM_MEMBERS_H_
