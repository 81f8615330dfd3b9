// The io_uring transport's core: one ring that owns TCP sockets to brokers, plain C++ (no
// napi.h) so it is tested alone (native/test/ring_test.cc, also under ASan).
//
// Why it exists: the native backend's sockets go through io_uring instead of libuv's
// epoll + writev/read (DESIGN.md). This is design (b) of issue 15: the ring's completions
// signal an eventfd, which the binding (binding/uring.cc) has libuv watch on the JS thread with
// a uv_poll_t, so a completion reaches JavaScript with no thread hop; Process() is called from
// that poll callback. Everything here runs on that one thread (@thread owner): no locks. That
// is also what lets the ring ask for IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (TaskRun):
// the thread that calls Init is the only one that ever submits or reaps (a worker_threads
// environment makes its own ring on its own thread).
//
// Per connection at most one send is in flight (a stream socket must not have two sends
// racing, and a short send is finished before the next starts); writes queued meanwhile are
// coalesced into the next sendmsg, up to kMaxIov buffers: one writev-shaped submission per
// batch of requests. Receiving has two modes (RecvMode): kRing keeps one recv armed while
// connected, into the connection's own buffer; kPoll submits no recv at all -- the owner's
// event loop watches the socket (ReadWatcher: the binding's uv_poll_t per connection) and
// calls ReadReady(), which reads with recv(2) into the same buffer. Either way the sink copies
// the bytes out before the buffer is read into again.
//
// Why kPoll exists: a recv armed on the ring whose bytes arrive goes through io_uring's poll
// wake-up and task work before its completion signals the eventfd; a socket watched by epoll
// wakes the loop's epoll_wait directly. On an awaited round trip against a broker that was
// 3-6 us of the ring's p50 gap to node:net (bench/RESULTS.md, "erecv").
#ifndef KAFKA_TURBO_IO_RING_H_
#define KAFKA_TURBO_IO_RING_H_

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct io_uring;
struct io_uring_sqe;

namespace kafka_turbo {
namespace io {

// Whether io_uring can be used here; on false, *reason says what refused it in one line
// (kernel.io_uring_disabled, io_uring_setup's errno -- EPERM from seccomp or a sandbox,
// ENOSYS from an old kernel --, or a missing opcode). @thread any
bool ProbeIoUring(std::string* reason);

// How the kernel runs the ring's task work: the second half of an operation that had to wait
// (a recv whose bytes arrived, a send that found room, a connect that was answered).
enum class TaskRun : uint8_t {
  // IORING_SETUP_DEFER_TASKRUN | SINGLE_ISSUER | TASKRUN_FLAG (Linux 6.1+): the work waits
  // until the owner enters the ring for completions; its arrival only signals the eventfd
  // (and sets IORING_SQ_TASKRUN). A sleeping epoll_wait is woken once, by the eventfd.
  kDefer,
  // IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG (5.19+): the work runs at the owner's next
  // kernel transition; a running thread is not interrupted for it, a sleeping one still is.
  kCoop,
  // No flags (every kernel): the work interrupts the owner (a sleeping epoll_wait returns
  // EINTR and is called again), runs, posts the completion and signals the eventfd.
  kPlain,
};
// "defer", "coop", "plain". @thread any
const char* TaskRunName(TaskRun t);

// The mode a ring asked for `want` gets here: `want` when a small ring with its setup flags
// can be made, else kPlain with *fallback saying what was refused (kPlain needs nothing more
// than ProbeIoUring). `refuse`: as RingOptions::refuse_task_run. @thread any
TaskRun ProbeTaskRun(TaskRun want, std::string* fallback, bool refuse = false);

// How a connection's bytes are received (see the file comment).
enum class RecvMode : uint8_t {
  kRing,  // an IORING_OP_RECV always armed while connected
  kPoll,  // recv(2) from ReadReady() when the owner's event loop reports the socket readable
};
// "ring", "poll". @thread any
const char* RecvModeName(RecvMode m);

// Watches connections' sockets for readability for a kPoll ring (the binding: a uv_poll_t per
// connection on the JS thread's loop). @thread owner
class ReadWatcher {
 public:
  virtual ~ReadWatcher() = default;
  // `conn` is connected: from now on call Ring::ReadReady(conn) whenever `fd` is readable
  // (level-triggered, or again after kMore). 0, or a positive errno: the ring then closes the
  // connection with that error.
  virtual int Watch(uint32_t conn, int fd) = 0;
  // Stop watching `fd` at once: the connection has begun closing, or the ring is being
  // destroyed, and the ring closes the fd after this (a closed fd must not stay in an epoll
  // set). Called exactly once for every Watch that returned 0.
  virtual void Unwatch(uint32_t conn, int fd) = 0;
};

// Receives completions from Process() (and ReadReady()). The byte pointers are valid only during the call.
class RingSink {
 public:
  virtual ~RingSink() = default;
  virtual void OnConnected(uint32_t conn) = 0;
  virtual void OnData(uint32_t conn, const uint8_t* data, size_t size) = 0;
  // The oldest `writes` Write() calls of `conn` are wholly in the kernel's send buffer;
  // `notify`: one of them asked to be told (Write's notify).
  virtual void OnWritten(uint32_t conn, uint32_t writes, bool notify) = 0;
  // The socket is closed and forgotten; `error` is 0 for a close asked for (Close()) or an
  // orderly end from the peer with `eof` set, else a positive errno. Writes not reported
  // written never will be.
  virtual void OnClosed(uint32_t conn, int error, bool eof) = 0;
};

struct RingOptions {
  unsigned entries = 256;
  size_t read_buffer = 64 * 1024;
  // Asked for; Init falls back to kPlain when the kernel refuses the setup flags (EINVAL from
  // a kernel older than them), and task_run() / fallback() say what it got.
  TaskRun task_run = TaskRun::kDefer;
  // Tests: task_run's setup flags are refused with EINVAL, as by a kernel older than them,
  // so the fallback is exercised on this one.
  bool refuse_task_run = false;
  // kPoll needs `watcher` (Init fails without one); it must outlive the ring.
  RecvMode recv = RecvMode::kRing;
  ReadWatcher* watcher = nullptr;
  // kPoll: at most about this many bytes per ReadReady() call (whole read_buffer reads), so
  // one busy socket cannot keep the loop from its other handles; the rest is read at the next
  // readiness report.
  size_t read_budget = 256 * 1024;
  // A Write() that starts a send while the ring is held enters the kernel at once (with
  // whatever else is queued) instead of at Flush(): the request of an awaited send then
  // leaves before the rest of the JavaScript callback that wrote it has run, as a node:net
  // write does (issue 15: ~5 us of the ring's extra latency on an awaited send, measured in
  // bench/RESULTS.md). Writes queued behind a send in flight still go together when it
  // completes. false: every submission of a held stretch waits for Flush().
  bool send_at_once = true;
};

class Ring {
 public:
  Ring();
  ~Ring();  // closes every socket at once (no OnClosed), then the ring
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Sets up the ring and its eventfd; false with *error on failure. @thread owner
  bool Init(const RingOptions& options, std::string* error);
  int event_fd() const { return event_fd_; }
  // The task-work mode Init set up; fallback(): why it is not the one asked for (else empty).
  TaskRun task_run() const { return task_run_; }
  const std::string& fallback() const { return fallback_; }
  RecvMode recv_mode() const { return options_.recv; }

  // Opens a non-blocking TCP socket to `addr` and submits its connect. Returns the
  // connection id (> 0), or 0 with *error (errno) when the socket cannot even be made.
  // send_buffer / recv_buffer > 0 set SO_SNDBUF / SO_RCVBUF (tests: partial writes).
  // @thread owner
  uint32_t Connect(const sockaddr* addr, socklen_t len, int send_buffer, int recv_buffer, int* error);

  // Queues the bytes of `iov` (the memory must stay valid until OnWritten counts this write,
  // or OnClosed) and sends them now unless a send is already in flight. Returns false when the
  // connection is unknown or closing. `notify` is passed on to OnWritten (the binding hands
  // only such completions to JavaScript at once). @thread owner
  bool Write(uint32_t conn, const iovec* iov, size_t count, bool notify = true);

  // Starts closing: cancels what is in flight; OnClosed(conn, 0) follows once the kernel
  // has given every operation back. Returns false when unknown or already closing.
  // @thread owner
  bool Close(uint32_t conn);

  // Hands every completion waiting to `sink`, re-arms reads, submits (unless held).
  // `clear_event`: first reads the eventfd to reset its count (once per wake-up is enough).
  // With kDefer the completions are made here: when the queue is empty and the kernel says
  // work waits (IORING_SQ_TASKRUN), one io_uring_enter(GETEVENTS) runs it (liburing's peek
  // does that enter). Returns the number of completions seen. @thread owner
  size_t Process(RingSink* sink, bool clear_event = true);

  // kPoll: `conn`'s socket is readable (or in error). Reads with recv(2) into the
  // connection's buffer and hands each read to sink->OnData, until a read comes back short
  // (the socket is then most likely empty; level-triggered readiness says if not), EAGAIN, or
  // read_budget bytes. End of stream and errors begin the close, as a ring recv's would:
  // OnClosed follows from Process() (eof set for the end of stream, else the errno).
  enum class ReadResult : uint8_t {
    kDrained,  // nothing more to read now
    kMore,     // stopped at read_budget: the socket may still be readable
    kGone,     // the connection is unknown, not connected, or closing (now or already)
  };
  ReadResult ReadReady(uint32_t conn, RingSink* sink);

  // While held, Connect/Write/Close/Process queue their submissions instead of entering the
  // kernel each (a Write that starts a send excepted, with send_at_once: RingOptions); Flush()
  // ends the hold and submits everything queued in one io_uring_enter.
  // The binding holds across one wake-up (Process and the JavaScript callback it feeds), so
  // the reads re-armed there and the requests the callback writes (an awaited send's next
  // request) share one system call, and the response reaches JavaScript before any
  // io_uring_enter at all.
  //
  // Hold() also makes the ring quiet until Wake(): completions do not signal the eventfd
  // (IORING_CQ_EVENTFD_DISABLED). A send on loopback completes inside the io_uring_enter
  // that submits it; signalled, it cost a whole event-loop wake-up (epoll, the eventfd read,
  // a Process) per request for a completion nobody waits on. The binding instead takes such
  // completions right after Flush() while HasCompletions(), then calls Wake() and checks
  // HasCompletions() once more: a completion posted while quiet never signals. @thread owner
  void Hold();
  void Flush();
  void Wake();
  // The kernel has posted completions that Process() has not taken yet, or (kDefer, kCoop)
  // holds task work that the next Process() runs (IORING_SQ_TASKRUN). No system call.
  bool HasCompletions() const;
  // Signals the eventfd, for a wake-up later (completions left for the next loop turn).
  void Signal();

  size_t connections() const { return conns_.size(); }

  static constexpr size_t kMaxIov = 1024;

 private:
  struct PendingWrite {
    std::vector<iovec> iov;
    bool notify;
  };
  struct Conn {
    int fd = -1;
    bool connected = false;
    bool closing = false;
    bool eof = false;
    int error = 0;
    int ops = 0;  // operations the kernel has not given back yet
    bool reading = false;
    bool sending = false;
    bool watched = false;  // kPoll: a ReadWatcher::Watch is in force
    std::unique_ptr<uint8_t[]> rbuf;
    std::deque<PendingWrite> queued;
    // The send in flight: its buffers (advanced past what short sends took), and how many
    // Write() calls it finishes.
    std::vector<iovec> inflight;
    size_t inflight_first = 0;
    uint32_t inflight_writes = 0;
    bool inflight_notify = false;
    msghdr msg{};
    sockaddr_storage addr{};  // kept until the connect completes
    socklen_t addr_len = 0;
  };
  enum OpKind : uint64_t { kConnect = 1, kRecv = 2, kSend = 3, kCancel = 4 };

  ::io_uring_sqe* Sqe();
  // Enters the kernel with what is queued, unless held.
  void Submit();
  void ArmRecv(uint32_t id, Conn* c);
  void StartSend(uint32_t id, Conn* c);
  void BeginClose(uint32_t id, Conn* c, int error);
  // kPoll: ends the watch of `c`'s fd (before anything closes it).
  void StopWatching(uint32_t id, Conn* c);
  // Closes and forgets `id` once nothing of it is in flight; true when it did.
  bool MaybeFinish(uint32_t id, Conn* c, RingSink* sink);
  void Complete(uint64_t user_data, int res, RingSink* sink);

  std::unique_ptr<io_uring> ring_;
  bool ready_ = false;
  bool held_ = false;   // see Hold()
  bool quiet_ = false;  // the eventfd is not signalled (Hold() until Wake())
  int event_fd_ = -1;
  TaskRun task_run_ = TaskRun::kPlain;
  // The kernel raises IORING_SQ_TASKRUN when task work waits for us (kDefer, kCoop).
  bool taskrun_flag_ = false;
  std::string fallback_;
  RingOptions options_;
  uint32_t next_id_ = 1;
  std::unordered_map<uint32_t, Conn> conns_;
  // Connections closed by Close() whose OnClosed is due at the next Process().
  std::vector<uint32_t> finishing_;
};

}  // namespace io
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_IO_RING_H_
