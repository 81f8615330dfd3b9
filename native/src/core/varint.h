// Kafka's variable-length integers (the protobuf encoding): unsigned LEB128, with zig-zag
// on top for the signed varint (32-bit) and varlong (64-bit) that record batch v2 uses for
// every length, delta and count inside a record.
//
// Plain C++, header-only: the record encoder calls these once or more per field, so they
// must inline. Callers make sure there is room (at most 5 bytes for a varint, 10 for a
// varlong); nothing here checks bounds.
#ifndef KAFKA_TURBO_CORE_VARINT_H_
#define KAFKA_TURBO_CORE_VARINT_H_

#include <cstddef>
#include <cstdint>

namespace kafka_turbo {
namespace core {

// Zig-zag maps small magnitudes of either sign to small unsigned values: 0, -1, 1, -2 ...
// -> 0, 1, 2, 3 ... The shifts go through unsigned types so that no signed overflow (UB)
// happens for any input; `v >> 31` on a negative value is an arithmetic shift on every
// compiler we build with (and defined as such from C++20).
inline uint32_t ZigZag32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}

inline uint64_t ZigZag64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// Bytes the LEB128 form of v takes: 1 + floor(log2(v)) / 7, computed without a loop
// (protobuf's formula: (log2 * 9 + 73) / 64 equals it for log2 in 0..63).
inline size_t SizeOfUvarint(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
  const unsigned log2 = 63u - static_cast<unsigned>(__builtin_clzll(v | 1));
  return static_cast<size_t>((log2 * 9 + 73) / 64);
#else
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
#endif
}

inline size_t SizeOfVarint(int32_t v) { return SizeOfUvarint(ZigZag32(v)); }
inline size_t SizeOfVarlong(int64_t v) { return SizeOfUvarint(ZigZag64(v)); }

// Writes v as LEB128 at p and returns the byte after it.
inline uint8_t* WriteUvarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

inline uint8_t* WriteVarint(uint8_t* p, int32_t v) { return WriteUvarint(p, ZigZag32(v)); }
inline uint8_t* WriteVarlong(uint8_t* p, int64_t v) { return WriteUvarint(p, ZigZag64(v)); }

// Big-endian fixed-width stores for the batch header.
inline void StoreBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline void StoreBe64(uint8_t* p, uint64_t v) {
  StoreBe32(p, static_cast<uint32_t>(v >> 32));
  StoreBe32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_VARINT_H_
