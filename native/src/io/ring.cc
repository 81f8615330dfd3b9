// The io_uring transport's core (see ring.h for why it exists and its threading rule).
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

namespace kafka_turbo {
namespace io {

namespace {

constexpr uint64_t kKindBits = 8;

uint64_t UserData(uint32_t id, uint64_t kind) { return (static_cast<uint64_t>(id) << kKindBits) | kind; }

std::string Errno(const char* what, int err) {
  std::string s = what;
  s += ": ";
  s += std::strerror(err);
  s += " (errno ";
  s += std::to_string(err);
  s += ")";
  return s;
}

// The setup flags of each task-work mode (TASKRUN_FLAG needs COOP or DEFER; DEFER needs
// SINGLE_ISSUER).
unsigned SetupFlags(TaskRun t) {
  switch (t) {
    case TaskRun::kDefer:
      return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    case TaskRun::kCoop:
      return IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    case TaskRun::kPlain:
    default:
      return 0;
  }
}

const char* FlagName(TaskRun t) {
  return t == TaskRun::kDefer ? "IORING_SETUP_DEFER_TASKRUN" : "IORING_SETUP_COOP_TASKRUN";
}

// io_uring_queue_init_params with `t`'s flags added to `params`, or -EINVAL when the test
// hook refuses them.
int SetUp(unsigned entries, io_uring* ring, io_uring_params* params, TaskRun t, bool refuse) {
  const unsigned extra = SetupFlags(t);
  if (extra != 0 && refuse) return -EINVAL;
  params->flags |= extra;
  return io_uring_queue_init_params(entries, ring, params);
}

}  // namespace

const char* TaskRunName(TaskRun t) {
  switch (t) {
    case TaskRun::kDefer:
      return "defer";
    case TaskRun::kCoop:
      return "coop";
    case TaskRun::kPlain:
    default:
      return "plain";
  }
}

const char* RecvModeName(RecvMode m) { return m == RecvMode::kPoll ? "poll" : "ring"; }

TaskRun ProbeTaskRun(TaskRun want, std::string* fallback, bool refuse) {
  if (want == TaskRun::kPlain) return want;
  io_uring ring;
  io_uring_params params{};
  const int rc = SetUp(4, &ring, &params, want, refuse);
  if (rc == 0) {
    io_uring_queue_exit(&ring);
    return want;
  }
  *fallback = std::string("the kernel refused ") + FlagName(want) + " (" + Errno("io_uring_setup", -rc) + ")";
  return TaskRun::kPlain;
}

bool ProbeIoUring(std::string* reason) {
  // Linux 6.6+: 0 allowed, 1 only for the io_uring_group, 2 refused for everyone.
  if (FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r")) {
    int v = 0;
    const bool read = std::fscanf(f, "%d", &v) == 1;
    std::fclose(f);
    if (read && v == 2) {
      *reason = "kernel.io_uring_disabled = 2 (io_uring is switched off for every process)";
      return false;
    }
  }
  io_uring ring;
  const int rc = io_uring_queue_init(4, &ring, 0);
  if (rc < 0) {
    const int err = -rc;
    if (err == ENOSYS) {
      *reason = "io_uring_setup: ENOSYS (the kernel has no io_uring: older than 5.1, or built without it)";
    } else if (err == EPERM) {
      *reason = "io_uring_setup: EPERM (refused by seccomp, a sandbox, or kernel.io_uring_disabled = 1 for a process outside io_uring_group)";
    } else {
      *reason = Errno("io_uring_setup", err);
    }
    return false;
  }
  // The operations the transport submits; connect and send/recv arrived in 5.5-5.6,
  // cancel by fd in 5.19.
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  bool ok = true;
  if (probe == nullptr) {
    *reason = "io_uring works but cannot report its opcodes (IORING_REGISTER_PROBE: kernel older than 5.6)";
    ok = false;
  } else {
    const struct {
      int op;
      const char* name;
    } needed[] = {{IORING_OP_CONNECT, "CONNECT"}, {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_RECV, "RECV"},
                  {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}};
    for (const auto& n : needed) {
      if (!io_uring_opcode_supported(probe, n.op)) {
        *reason = std::string("io_uring lacks IORING_OP_") + n.name + " (kernel too old)";
        ok = false;
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  if (ok && !(ring.features & IORING_FEAT_NODROP)) {
    *reason = "io_uring lacks IORING_FEAT_NODROP (kernel older than 5.5)";
    ok = false;
  }
  io_uring_queue_exit(&ring);
  return ok;
}

Ring::Ring() = default;

Ring::~Ring() {
  for (auto& [id, c] : conns_) {
    StopWatching(id, &c);
    if (c.fd >= 0) ::close(c.fd);
  }
  conns_.clear();
  if (ready_) io_uring_queue_exit(ring_.get());
  if (event_fd_ >= 0) ::close(event_fd_);
}

bool Ring::Init(const RingOptions& options, std::string* error) {
  options_ = options;
  if (options.recv == RecvMode::kPoll && options.watcher == nullptr) {
    *error = "RecvMode::kPoll needs a ReadWatcher";
    return false;
  }
  if (options_.read_budget < options_.read_buffer) options_.read_budget = options_.read_buffer;
  ring_.reset(new io_uring());
  TaskRun want = options.task_run;
  int rc = 0;
  for (;;) {
    io_uring_params params{};
    // A completion queue well beyond the submission queue: every connection keeps a recv and a
    // send armed, and the kernel keeps overflowing completions anyway (IORING_FEAT_NODROP).
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = options.entries * 8;
    rc = SetUp(options.entries, ring_.get(), &params, want, options.refuse_task_run);
    // EINVAL: a kernel that does not know the flag (DEFER_TASKRUN came in 6.1, COOP in 5.19);
    // today's default then, which every io_uring kernel takes.
    if (rc != -EINVAL || want == TaskRun::kPlain) break;
    fallback_ = std::string("the kernel refused ") + FlagName(want) + " (" + Errno("io_uring_setup", EINVAL) + ")";
    want = TaskRun::kPlain;
  }
  if (rc < 0) {
    *error = Errno("io_uring_setup", -rc);
    return false;
  }
  ready_ = true;
  task_run_ = want;
  taskrun_flag_ = want != TaskRun::kPlain;
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    *error = Errno("eventfd", errno);
    return false;
  }
  rc = io_uring_register_eventfd(ring_.get(), event_fd_);
  if (rc < 0) {
    *error = Errno("io_uring_register_eventfd", -rc);
    return false;
  }
  return true;
}

io_uring_sqe* Ring::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel and take a fresh entry.
    io_uring_submit(ring_.get());
    sqe = io_uring_get_sqe(ring_.get());
  }
  return sqe;
}

void Ring::Submit() {
  if (!held_) io_uring_submit(ring_.get());
}

void Ring::Flush() {
  held_ = false;
  io_uring_submit(ring_.get());
}

void Ring::Hold() {
  held_ = true;
  // Only kernels of 5.8+ have the flag; without it the ring just stays noisy (a wake-up
  // per completion, as before), which is correct, only slower.
  if (!quiet_ && io_uring_cq_eventfd_toggle(ring_.get(), false) == 0) quiet_ = true;
}

void Ring::Wake() {
  if (quiet_) {
    io_uring_cq_eventfd_toggle(ring_.get(), true);
    quiet_ = false;
    // The flag's store before the caller's HasCompletions() loads: what the kernel added
    // while the eventfd was off is seen there, or (added after) signals it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

bool Ring::HasCompletions() const {
  if (io_uring_cq_ready(ring_.get()) > 0) return true;
  // Deferred (or cooperative) task work that the next enter runs: with kDefer its arrival
  // while quiet signalled nothing, and later arrivals do not signal either until it is run.
  return taskrun_flag_ && (IO_URING_READ_ONCE(*ring_->sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

void Ring::Signal() { ::eventfd_write(event_fd_, 1); }

uint32_t Ring::Connect(const sockaddr* addr, socklen_t len, int send_buffer, int recv_buffer, int* error) {
  if (len > sizeof(sockaddr_storage)) {
    *error = EINVAL;
    return 0;
  }
  const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return 0;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  if (send_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
  if (recv_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &recv_buffer, sizeof recv_buffer);
  io_uring_sqe* sqe = Sqe();
  if (sqe == nullptr) {
    ::close(fd);
    *error = EBUSY;
    return 0;
  }
  uint32_t id = next_id_++;
  if (next_id_ >= (1u << 24)) next_id_ = 1;  // ids fit in user_data beside the kind
  while (conns_.count(id) != 0) id = next_id_++;
  Conn& c = conns_[id];
  c.fd = fd;
  c.rbuf.reset(new uint8_t[options_.read_buffer]);
  std::memcpy(&c.addr, addr, len);
  c.addr_len = len;
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&c.addr), c.addr_len);
  io_uring_sqe_set_data64(sqe, UserData(id, kConnect));
  c.ops++;
  Submit();
  return id;
}

bool Ring::Write(uint32_t conn, const iovec* iov, size_t count, bool notify) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.closing) return false;
  Conn& c = it->second;
  c.queued.push_back(PendingWrite{std::vector<iovec>(iov, iov + count), notify});
  if (c.connected && !c.sending) {
    StartSend(conn, &c);
    if (held_ && options_.send_at_once) io_uring_submit(ring_.get());
    else Submit();
  }
  return true;
}

void Ring::StartSend(uint32_t id, Conn* c) {
  // Coalesce the queued writes into one sendmsg (whole writes only: a write's completion is
  // reported when all of it is sent).
  c->inflight.clear();
  c->inflight_first = 0;
  c->inflight_writes = 0;
  c->inflight_notify = false;
  while (!c->queued.empty()) {
    PendingWrite& w = c->queued.front();
    if (c->inflight_writes > 0 && c->inflight.size() + w.iov.size() > kMaxIov) break;
    for (const iovec& v : w.iov) {
      if (v.iov_len > 0) c->inflight.push_back(v);
    }
    c->inflight_notify = c->inflight_notify || w.notify;
    c->queued.pop_front();
    c->inflight_writes++;
  }
  if (c->inflight_writes == 0) return;
  io_uring_sqe* sqe = Sqe();
  if (sqe == nullptr) {
    BeginClose(id, c, EBUSY);
    return;
  }
  c->msg = msghdr{};
  c->msg.msg_iov = c->inflight.data();
  c->msg.msg_iovlen = std::min(c->inflight.size(), kMaxIov);
  io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, UserData(id, kSend));
  c->ops++;
  c->sending = true;
}

void Ring::ArmRecv(uint32_t id, Conn* c) {
  io_uring_sqe* sqe = Sqe();
  if (sqe == nullptr) {
    BeginClose(id, c, EBUSY);
    return;
  }
  io_uring_prep_recv(sqe, c->fd, c->rbuf.get(), options_.read_buffer, 0);
  io_uring_sqe_set_data64(sqe, UserData(id, kRecv));
  c->ops++;
  c->reading = true;
}

void Ring::StopWatching(uint32_t id, Conn* c) {
  if (!c->watched) return;
  c->watched = false;
  options_.watcher->Unwatch(id, c->fd);
}

void Ring::BeginClose(uint32_t id, Conn* c, int error) {
  if (c->closing) return;
  c->closing = true;
  c->error = error;
  // Nothing is read any more; the watch ends before the fd can be closed (MaybeFinish).
  StopWatching(id, c);
  // Cancel everything of this fd; the cancel's own completion also wakes Process(), so a
  // connection with nothing in flight is finished there too.
  io_uring_sqe* sqe = Sqe();
  if (sqe != nullptr) {
    io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, UserData(id, kCancel));
    c->ops++;
  } else {
    finishing_.push_back(id);
  }
}

bool Ring::Close(uint32_t conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.closing) return false;
  BeginClose(conn, &it->second, 0);
  Submit();
  return true;
}

bool Ring::MaybeFinish(uint32_t id, Conn* c, RingSink* sink) {
  if (!c->closing || c->ops > 0) return false;
  StopWatching(id, c);  // done by BeginClose already; kept next to the close that needs it
  ::close(c->fd);
  const int error = c->error;
  const bool eof = c->eof;
  conns_.erase(id);
  sink->OnClosed(id, error, eof);
  return true;
}

void Ring::Complete(uint64_t user_data, int res, RingSink* sink) {
  const uint32_t id = static_cast<uint32_t>(user_data >> kKindBits);
  const uint64_t kind = user_data & ((1u << kKindBits) - 1);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn* c = &it->second;
  c->ops--;
  switch (kind) {
    case kConnect:
      if (c->closing) break;
      if (res < 0) {
        BeginClose(id, c, -res);
        break;
      }
      c->connected = true;
      if (options_.recv == RecvMode::kPoll) {
        const int werr = options_.watcher->Watch(id, c->fd);
        if (werr != 0) {
          BeginClose(id, c, werr);
          break;
        }
        c->watched = true;
      }
      sink->OnConnected(id);
      if (c->closing) break;  // closed from inside the callback
      if (options_.recv == RecvMode::kRing) ArmRecv(id, c);
      if (!c->queued.empty()) StartSend(id, c);
      break;
    case kRecv:
      c->reading = false;
      if (c->closing) break;
      if (res > 0) {
        sink->OnData(id, c->rbuf.get(), static_cast<size_t>(res));
        if (!c->closing) ArmRecv(id, c);
      } else if (res == 0) {
        c->eof = true;
        BeginClose(id, c, 0);
      } else if (res == -EAGAIN || res == -EINTR) {
        ArmRecv(id, c);
      } else {
        BeginClose(id, c, -res);
      }
      break;
    case kSend: {
      c->sending = false;
      if (c->closing) break;
      if (res < 0 && res != -EAGAIN && res != -EINTR) {
        BeginClose(id, c, -res);
        break;
      }
      // Advance past what was taken; a short send goes on with the rest.
      size_t left = res > 0 ? static_cast<size_t>(res) : 0;
      while (left > 0 && c->inflight_first < c->inflight.size()) {
        iovec& v = c->inflight[c->inflight_first];
        if (v.iov_len <= left) {
          left -= v.iov_len;
          c->inflight_first++;
        } else {
          v.iov_base = static_cast<uint8_t*>(v.iov_base) + left;
          v.iov_len -= left;
          left = 0;
        }
      }
      if (c->inflight_first < c->inflight.size()) {
        io_uring_sqe* sqe = Sqe();
        if (sqe == nullptr) {
          BeginClose(id, c, EBUSY);
          break;
        }
        c->msg = msghdr{};
        c->msg.msg_iov = c->inflight.data() + c->inflight_first;
        c->msg.msg_iovlen = std::min(c->inflight.size() - c->inflight_first, kMaxIov);
        io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, UserData(id, kSend));
        c->ops++;
        c->sending = true;
        break;
      }
      const uint32_t done = c->inflight_writes;
      c->inflight.clear();
      c->inflight_writes = 0;
      sink->OnWritten(id, done, c->inflight_notify);
      if (!c->closing && !c->queued.empty()) StartSend(id, c);
      break;
    }
    case kCancel:
    default:
      break;
  }
  MaybeFinish(id, c, sink);
}

Ring::ReadResult Ring::ReadReady(uint32_t conn, RingSink* sink) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.closing || !it->second.connected) return ReadResult::kGone;
  Conn* c = &it->second;
  size_t taken = 0;
  for (;;) {
    const ssize_t n = ::recv(c->fd, c->rbuf.get(), options_.read_buffer, MSG_DONTWAIT);
    if (n > 0) {
      sink->OnData(conn, c->rbuf.get(), static_cast<size_t>(n));
      if (c->closing) return ReadResult::kGone;
      // A short read emptied the socket (as libuv's stream reads assume): no second recv
      // just to be told EAGAIN. Bytes that came after it make the socket readable again.
      if (static_cast<size_t>(n) < options_.read_buffer) return ReadResult::kDrained;
      taken += static_cast<size_t>(n);
      if (taken >= options_.read_budget) return ReadResult::kMore;
      continue;
    }
    int err = n == 0 ? 0 : errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return ReadResult::kDrained;
    // The peer's end of stream (0) or a socket error (ECONNRESET, ETIMEDOUT, ...): as a ring
    // recv's result, the close begins and OnClosed says which.
    c->eof = n == 0;
    BeginClose(conn, c, err);
    Submit();
    return ReadResult::kGone;
  }
}

size_t Ring::Process(RingSink* sink, bool clear_event) {
  uint64_t counter = 0;
  // Clears the eventfd's count; completions posted after this signal it again.
  if (clear_event && ::read(event_fd_, &counter, sizeof counter) < 0) {
    // EAGAIN: nothing signalled since the last read; the queue may still hold completions.
  }
  size_t seen = 0;
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(ring_.get(), &cqe) != 0 || cqe == nullptr) break;
    const uint64_t data = io_uring_cqe_get_data64(cqe);
    const int res = cqe->res;
    io_uring_cqe_seen(ring_.get(), cqe);
    seen++;
    Complete(data, res, sink);
  }
  std::vector<uint32_t> finishing;
  finishing.swap(finishing_);
  for (uint32_t id : finishing) {
    auto it = conns_.find(id);
    if (it != conns_.end()) {
      it->second.ops = 0;  // nothing could be submitted for it: nothing is in flight we can wait for
      MaybeFinish(id, &it->second, sink);
    }
  }
  Submit();
  return seen;
}

}  // namespace io
}  // namespace kafka_turbo
