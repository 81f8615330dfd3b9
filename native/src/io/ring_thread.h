// Design (a) of issue 15: a native I/O thread owning the ring (ring.h), beside design (b)
// (the ring's eventfd polled by libuv on the JS thread, binding/uring.cc). Built so the two
// can be measured against each other (bench/latency.bench.ts, KAFKA_TURBO_IO=uring-thread);
// plain C++ (no napi.h), so native/test/ring_test.cc drives it alone, also under ASan.
//
// Threads and hand-offs:
//   - The caller (the JS thread, "@thread client") queues commands -- connect, write, close --
//     under a mutex and wakes the I/O thread with one eventfd write per batch of commands
//     (an atomic flag says a wake-up is already on its way, so a burst of writes costs one).
//   - The I/O thread sleeps in one io_uring_enter (submit and wait) for socket completions
//     and wake-ups alike: the wake-up eventfd is read by an operation inside the ring
//     (Ring::Watch), not polled beside it.
//   - Completions are gathered per turn of the I/O thread into a batch of [kind, id, value]
//     events plus the received bytes (copied off the ring's buffers), published under the
//     mutex; the `ready` callback is called (on the I/O thread) only when the published
//     batch goes from empty to non-empty, and only for events somebody waits on (data,
//     connect, close, a write with notify). The binding's `ready` is uv_async_send: libuv
//     coalesces, so the JS thread is woken once for many responses and takes them all with
//     Take().
//   - Stop() (also the destructor) has the thread close every socket, wait until the kernel
//     has given back every operation (so no send still reads the caller's memory and no recv
//     still writes the ring's), free the ring, and exit; Stop() joins it.
#ifndef KAFKA_TURBO_IO_RING_THREAD_H_
#define KAFKA_TURBO_IO_RING_THREAD_H_

#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/sync.h"
#include "ring.h"

namespace kafka_turbo {
namespace io {

// Event kinds of a batch: [kind, connection id, value] triples (the same list and numbers
// design (b)'s binding hands to JavaScript).
enum RingEventKind : int {
  kRingConnected = 1,  // value 0
  kRingData = 2,       // value: index into the batch's data
  kRingWritten = 3,    // value: how many of the oldest writes are in the kernel now
  kRingClosed = 4,     // value: errno (0: closed by Close())
  kRingEnd = 5,        // closed: the peer ended the stream (value 0)
};

struct RingBatch {
  std::vector<double> events;
  std::vector<std::vector<uint8_t>> data;
  void clear() {
    events.clear();
    data.clear();
  }
  bool empty() const { return events.empty(); }
};

class RingThread {
 public:
  // `ready(arg)` is called on the I/O thread when a batch becomes available (see above).
  using Ready = void (*)(void* arg);
  RingThread(Ready ready, void* arg);
  ~RingThread();  // Stop()
  RingThread(const RingThread&) = delete;
  RingThread& operator=(const RingThread&) = delete;

  // Sets the ring up and starts the thread; false with *error. @thread client
  bool Start(const RingOptions& options, std::string* error);

  // Hands `fd` (from Ring::OpenSocket; owned by the thread from here on) to the thread to
  // connect to `addr` under `id` (1..Ring::kMaxId, chosen by the client and not in use).
  // @thread client
  void Connect(uint32_t id, int fd, const sockaddr* addr, socklen_t len);
  // As Ring::Write: the memory of `iov` stays valid until a written or closed event covers
  // it. @thread client
  void Write(uint32_t id, const iovec* iov, size_t count, bool notify);
  void Close(uint32_t id);  // a closed event follows. @thread client
  // Closes everything, waits for the kernel to give every operation back, joins the thread.
  // Idempotent. Events not taken are dropped. @thread client
  void Stop();

  // Moves everything published since the last Take into *out (cleared first). @thread client
  void Take(RingBatch* out);

 private:
  enum CmdKind { kCmdConnect, kCmdWrite, kCmdClose, kCmdStop };
  struct Cmd {
    explicit Cmd(CmdKind k) : kind(k) {}
    CmdKind kind;
    uint32_t id = 0;
    int fd = -1;
    bool notify = false;
    socklen_t addr_len = 0;
    sockaddr_storage addr{};
    std::vector<iovec> iov;
  };
  class Sink;

  static void* Main(void* self);
  void Run();
  void Push(Cmd&& cmd);
  // Runs queued commands; true once Stop was asked for. @thread io
  bool RunCommands(Sink* sink);

  Ready ready_;
  void* ready_arg_;
  std::unique_ptr<Ring> ring_;  // used only by the I/O thread once Start() returned
  pthread_t thread_{};
  bool started_ = false;
  bool stopped_ = false;
  int wake_fd_ = -1;
  uint64_t wake_buf_ = 0;  // the ring's read of wake_fd_ lands here. @thread io
  std::atomic<bool> wake_pending_{false};

  core::Mutex mutex_;
  // Guarded by mutex_.
  std::vector<Cmd> commands_;
  RingBatch published_;
};

}  // namespace io
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_IO_RING_THREAD_H_
