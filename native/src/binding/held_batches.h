// Drained batches kept in native memory for the io_uring transport (issue 15, item 2).
//
// Why it exists: on the ring a drained batch need not become a JavaScript Buffer at all.
// drainPacked(..., hold) keeps each large batch here under a ref (a number, unique in the
// process); TypeScript frames the ProduceRequest and names the batches by ref, and the ring's
// write (uring.cc) resolves each ref to (pointer, length) in the one sendmsg of the request.
//
// Lifetime: a held batch's memory (a HeldBlock) has one reference for the accumulator's table
// entry, dropped when the sender is done with the batch (complete() of its id, or destroy()),
// one per ring write that names it, dropped when the ring reports that write in the kernel or
// its connection closed (or the ring is torn down), and one per Buffer made over it
// (heldBatchBuffer: retries through a transport that is not the ring, the split path), dropped
// by that Buffer's finalizer. The last reference frees it (or gives its block back to the
// accumulator's pool, which outlives the accumulator for it), so it outlives a closed or
// destroyed producer while a write still reads it in place. Its bytes are reported to V8 and
// counted in memoryStats().bufferBytes from the drain until then.
#ifndef KAFKA_TURBO_BINDING_HELD_BATCHES_H_
#define KAFKA_TURBO_BINDING_HELD_BATCHES_H_

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace kafka_turbo {
namespace binding {

struct HeldBlock;

// Takes a reference on held batch `ref` (a ring write's): its bytes and size, or null when no
// batch is held under that ref (released already, or never made). @thread JS
HeldBlock* AcquireHeldBatch(double ref, const uint8_t** bytes, size_t* size);

// Drops a reference from AcquireHeldBatch; the last one frees the memory. `env` null: V8 is
// not told (the environment is going away). @thread JS
void ReleaseHeldBlock(napi_env env, HeldBlock* block);

// Held batches of the process whose memory is not freed yet (memoryStats().heldBatches).
// @thread any
int64_t HeldBatchCount();

}  // namespace binding
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_BINDING_HELD_BATCHES_H_
