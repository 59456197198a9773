// The wire protocol in the browser: code generated at build time from
// proto/muxchat.proto by protobufjs-cli's pbjs (npm run gen -> gen/), plus the
// framing rule for WebSocket: one binary message = one ClientFrame or
// ServerFrame, protobuf bytes only, no 4-byte length prefix (docs/PROTOCOL.md
// section 17).
import pb from "../gen/muxchat_pb.cjs";

export const v1 = pb.muxchat.v1;
export const Status = v1.Status;
export const PROTOCOL_VERSION = 1;

/** Encodes a plain object as a ClientFrame; returns the bytes to send. */
export function encodeClientFrame(frame) {
  return v1.ClientFrame.encode(v1.ClientFrame.create(frame)).finish();
}

/** Decodes one WebSocket message's bytes as a ServerFrame. Throws on garbage. */
export function decodeServerFrame(bytes) {
  return v1.ServerFrame.decode(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
}

/**
 * 64-bit fields arrive as numbers in the browser bundle and as Long objects
 * where the `long` package is loadable (node); room ids, seqs and timestamps
 * all fit in a double, so both become numbers.
 */
export function num(v) {
  if (v == null) return 0;
  if (typeof v === "number") return v;
  if (typeof v.toNumber === "function") return v.toNumber();
  return Number(v);
}

/** A Status value's name without the FAILURE_ prefix, for messages. */
export function statusName(s) {
  const name = Status[s] ?? String(s);
  return name.replace(/^FAILURE_/, "").toLowerCase().replace(/_/g, " ");
}
