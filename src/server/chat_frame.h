// Encodes the one frame on the fan-out hot path, ServerFrame{room_id,
// chat_message}, straight from a room's history entry into a SharedFrame:
// no intermediate message object, no copy of sender or text, and no second
// UTF-8 check (the text was checked when its request was parsed). The bytes
// are exactly what the generated serializer would produce (tested).
// Pure function; any thread.
#ifndef MUXCHAT_SERVER_CHAT_FRAME_H_
#define MUXCHAT_SERVER_CHAT_FRAME_H_

#include <cstddef>
#include <cstdint>

#include "src/server/room.h"
#include "src/wire/shared_frame.h"

namespace muxchat::server {

// The whole frame, length prefix included, in its own SharedFrame.
wire::SharedFrame EncodeChatFrame(uint64_t room_id, const HistoryEntry& entry, bool replay);

// The same in two steps, to place the frame inside a shared block: its size
// (prefix included), then the bytes written to `out`, which has that room.
size_t ChatFrameSize(uint64_t room_id, const HistoryEntry& entry, bool replay);
void WriteChatFrame(uint64_t room_id, const HistoryEntry& entry, bool replay, char* out);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CHAT_FRAME_H_
