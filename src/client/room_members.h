// RoomMembers: who is in a room, as far as this client can tell. The
// protocol sends member counts (JoinRoom's Reply, MemberJoined, MemberLeft),
// never a member list, so names are learned from presence events and live
// messages after we joined; members who joined earlier and stay silent are
// only counted. Describe() says so in the /names answer. Used by both
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

  uint32_t count() const { return count_; }
  // Known names, sorted case-insensitively, as first seen.
  std::vector<std::string> Known() const;
  // "lobby: 3 members: alice bob, and 1 more who joined before you and has
  // not spoken since (the server sends counts, not names)".
  std::string Describe(const std::string& room) const;

 private:
  uint32_t count_ = 0;
  std::map<std::string, std::string> names_;  // lower-case -> as given
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ROOM_MEMBERS_H_
