// The io_uring transport core (native/src/io/ring.cc) against real loopback sockets: an echo
// server on threads, the ring driven the way the binding drives it (poll the eventfd, then
// Process). Covers short sends and reads with tiny SO_SNDBUF / SO_RCVBUF, refused connects,
// the peer closing mid-request, Close() with writes in flight, and a stress run of 6 servers'
// worth of connections with 10k requests in flight (run it under ASan: SANITIZE=1
// native/test/build.sh). Every test runs once per task-work mode the kernel takes (defer,
// coop, plain: io::TaskRun), and the fallback to plain when the mode's setup flags are refused
// is tested with the options' hook. Exits non-zero on the first failed check.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../src/io/ring.h"

using kafka_turbo::io::Ring;
using kafka_turbo::io::RingOptions;
using kafka_turbo::io::RingSink;
using kafka_turbo::io::ReadWatcher;
using kafka_turbo::io::RecvMode;
using kafka_turbo::io::TaskRun;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                          \
    }                                                                        \
  } while (0)

namespace {

// The task-work mode the tests of this pass run under (main sets it).
TaskRun g_mode = TaskRun::kDefer;
// And the receive mode (kPoll: RunUntil polls the watched sockets and calls ReadReady, as the
// binding's uv_poll_t per connection does).
RecvMode g_recv = RecvMode::kRing;

// The ReadWatcher of kPoll passes: which connection's fd to poll. Checks the ring's side of
// the contract: one Watch per connection, its Unwatch before the fd is closed.
struct TestWatcher : ReadWatcher {
  std::map<uint32_t, int> fds;
  int watches = 0;
  int unwatches = 0;
  int Watch(uint32_t conn, int fd) override {
    CHECK(fds.count(conn) == 0);
    fds[conn] = fd;
    watches++;
    return 0;
  }
  void Unwatch(uint32_t conn, int fd) override {
    CHECK(fds.count(conn) == 1 && fds[conn] == fd);
    CHECK(::fcntl(fd, F_GETFD) >= 0);  // still open: the ring closes it only after this
    fds.erase(conn);
    unwatches++;
  }
};
TestWatcher g_watcher;
// ReadReady calls that stopped at read_budget (kMore), over a pass.
int g_read_more = 0;

RingOptions Opts() {
  RingOptions o;
  o.task_run = g_mode;
  o.recv = g_recv;
  if (g_recv == RecvMode::kPoll) o.watcher = &g_watcher;
  return o;
}

// Checks the ring got the mode asked for (main runs only the modes this kernel takes).
void CheckMode(const Ring& ring) { CHECK(ring.task_run() == g_mode && ring.fallback().empty()); }

// A loopback TCP server: each accepted connection echoes what it reads (optionally reading
// in small pieces, slowly, with a tiny receive buffer), or closes after `close_after` bytes.
struct EchoServer {
  int fd = -1;
  int port = 0;
  int rcvbuf = 0;
  size_t read_chunk = 65536;
  long close_after = -1;
  std::atomic<bool> stop{false};
  std::thread acceptor;
  std::vector<std::thread> workers;

  explicit EchoServer(int rcvbuf_ = 0, size_t chunk = 65536, long close_after_ = -1)
      : rcvbuf(rcvbuf_), read_chunk(chunk), close_after(close_after_) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    CHECK(::listen(fd, 128) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    acceptor = std::thread([this] {
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
          if (stop) return;
          continue;
        }
        const int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) continue;
        workers.emplace_back([this, c] { Serve(c); });
      }
    });
  }
  void Serve(int c) {
    std::vector<uint8_t> buf(read_chunk);
    long total = 0;
    for (;;) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        if (stop) break;
        continue;
      }
      const ssize_t n = ::read(c, buf.data(), buf.size());
      if (n <= 0) break;
      total += n;
      if (close_after >= 0 && total >= close_after) break;
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = ::send(c, buf.data() + off, n - off, MSG_NOSIGNAL);  // the client may be gone
        if (w <= 0) break;
        off += w;
      }
    }
    ::close(c);
  }
  ~EchoServer() {
    stop = true;
    acceptor.join();
    for (auto& w : workers) w.join();
    ::close(fd);
  }
  sockaddr_in Addr() const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    return a;
  }
};

struct Recorder : RingSink {
  std::map<uint32_t, bool> connected;
  std::map<uint32_t, std::string> data;
  std::map<uint32_t, uint32_t> written;
  std::map<uint32_t, std::pair<int, bool>> closed;
  uint32_t closes_after_written_check = 0;
  void OnConnected(uint32_t c) override { connected[c] = true; }
  void OnData(uint32_t c, const uint8_t* d, size_t n) override {
    CHECK(closed.count(c) == 0);
    data[c].append(reinterpret_cast<const char*>(d), n);
  }
  std::map<uint32_t, uint32_t> notified;
  void OnWritten(uint32_t c, uint32_t w, bool notify) override {
    CHECK(closed.count(c) == 0);
    written[c] += w;
    if (notify) notified[c] += w;
  }
  void OnClosed(uint32_t c, int err, bool eof) override {
    CHECK(closed.count(c) == 0);
    closed[c] = {err, eof};
  }
};

// Drives the ring until `done()` or the deadline; false on timeout.
template <typename F>
bool RunUntil(Ring& ring, Recorder& rec, F done, int timeout_ms = 20000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::vector<pollfd> p{{ring.event_fd(), POLLIN, 0}};
    std::vector<uint32_t> conns;
    if (g_recv == RecvMode::kPoll) {
      for (const auto& [conn, fd] : g_watcher.fds) {
        p.push_back({fd, POLLIN, 0});
        conns.push_back(conn);
      }
    }
    ::poll(p.data(), p.size(), 20);
    for (size_t i = 1; i < p.size(); i++) {
      if (p[i].revents == 0) continue;
      if (ring.ReadReady(conns[i - 1], &rec) == Ring::ReadResult::kMore) g_read_more++;
    }
    ring.Process(&rec);
  }
  return true;
}

std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 9)) & 0xff);
  return s;
}

void TestShortWritesAndReads() {
  // Tiny buffers on both ends, a server that reads 700 bytes at a time: 1 MiB in 3 writes of
  // 40 buffers each must arrive whole, in order, and come back the same.
  EchoServer server(2048, 700);
  Ring ring;
  std::string err;
  RingOptions o = Opts();
  o.read_buffer = 1000;
  CHECK(ring.Init(o, &err));
  CheckMode(ring);
  Recorder rec;
  int e = 0;
  const sockaddr_in a = server.Addr();
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 4096, 2048, &e);
  CHECK(id != 0);
  const std::string payload = Pattern(1 << 20, 3);
  size_t off = 0;
  for (int w = 0; w < 3; w++) {
    std::vector<iovec> iov;
    const size_t part = w < 2 ? payload.size() / 3 : payload.size() - off;
    const size_t piece = part / 40;
    for (int i = 0; i < 40; i++) {
      const size_t len = i < 39 ? piece : part - 39 * piece;
      iov.push_back({const_cast<char*>(payload.data() + off), len});
      off += len;
    }
    CHECK(ring.Write(id, iov.data(), iov.size()));  // queued before the connect completes
  }
  CHECK(off == payload.size());
  CHECK(RunUntil(ring, rec, [&] { return rec.data[id].size() >= payload.size(); }));
  CHECK(rec.connected[id]);
  CHECK(rec.written[id] == 3);
  CHECK(rec.notified[id] == 3);
  CHECK(rec.data[id] == payload);
  CHECK(ring.Close(id));
  CHECK(!ring.Close(id));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  CHECK(rec.closed[id].first == 0);
  CHECK(ring.connections() == 0);
  std::puts("ok short writes and reads (1 MiB through 4 KiB / 2 KiB socket buffers)");
}

void TestRefused() {
  int port;
  {
    EchoServer s;
    port = s.port;
  }  // closed: nothing listens there now
  Ring ring;
  std::string err;
  CHECK(ring.Init(Opts(), &err));
  Recorder rec;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  int e = 0;
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
  CHECK(id != 0);
  const char x[] = "hello";
  iovec v{const_cast<char*>(x), 5};
  CHECK(ring.Write(id, &v, 1));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  CHECK(rec.closed[id].first == ECONNREFUSED);
  CHECK(rec.written.count(id) == 0);
  CHECK(rec.connected.count(id) == 0);
  std::puts("ok connect refused -> OnClosed(ECONNREFUSED), queued write never reported");
}

void TestPeerClosesMidRequest() {
  // The server takes 10 KiB of a 256 KiB request and hangs up.
  EchoServer server(0, 4096, 10 * 1024);
  Ring ring;
  std::string err;
  CHECK(ring.Init(Opts(), &err));
  Recorder rec;
  int e = 0;
  const sockaddr_in a = server.Addr();
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 4096, 0, &e);
  const std::string payload = Pattern(256 * 1024, 5);
  iovec v{const_cast<char*>(payload.data()), payload.size()};
  CHECK(ring.Write(id, &v, 1));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  // Either the reset reached the send (ECONNRESET/EPIPE) or the recv saw the end first.
  const auto [error, eof] = rec.closed[id];
  CHECK((error == 0 && eof) || error == ECONNRESET || error == EPIPE);
  CHECK(rec.written[id] == 0);
  std::printf("ok peer closes mid-request -> OnClosed(%s), the write never reported\n",
              error == 0 ? "eof" : std::strerror(error));
}

void TestCloseWithWritesInFlight() {
  // The server reads nothing for a while (tiny buffers fill), Close() must still finish.
  EchoServer server(2048, 1, -1);
  Ring ring;
  std::string err;
  CHECK(ring.Init(Opts(), &err));
  Recorder rec;
  int e = 0;
  const sockaddr_in a = server.Addr();
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 4096, 0, &e);
  const std::string payload = Pattern(4 << 20, 9);
  iovec v{const_cast<char*>(payload.data()), payload.size()};
  CHECK(ring.Write(id, &v, 1));
  CHECK(ring.Write(id, &v, 1));
  CHECK(RunUntil(ring, rec, [&] { return rec.connected.count(id) == 1; }));
  CHECK(ring.Close(id));
  CHECK(!ring.Write(id, &v, 1));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  CHECK(rec.closed[id].first == 0);
  CHECK(rec.written[id] < 2);
  CHECK(ring.connections() == 0);
  std::puts("ok Close() with 8 MiB of writes in flight finishes, nothing reported after");
}

void TestStress() {
  // 6 servers ("brokers") x 4 connections, 10k framed requests in flight over all of them,
  // queued before any completes; every echo must come back whole and in order.
  std::vector<std::unique_ptr<EchoServer>> servers;
  for (int i = 0; i < 6; i++) servers.emplace_back(new EchoServer());
  Ring ring;
  std::string err;
  CHECK(ring.Init(Opts(), &err));
  Recorder rec;
  std::vector<uint32_t> ids;
  for (auto& s : servers) {
    for (int k = 0; k < 4; k++) {
      int e = 0;
      const sockaddr_in a = s->Addr();
      ids.push_back(ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e));
      CHECK(ids.back() != 0);
    }
  }
  constexpr int kRequests = 10000;
  std::vector<std::string> requests(kRequests);
  std::map<uint32_t, std::string> expected;
  std::map<uint32_t, uint32_t> writes;
  for (int i = 0; i < kRequests; i++) {
    requests[i] = Pattern(64 + (i % 7) * 300, i);
    const uint32_t id = ids[i % ids.size()];
    // Two buffers per request: header and body, as the producer writes them.
    iovec v[2] = {{const_cast<char*>(requests[i].data()), 10},
                  {const_cast<char*>(requests[i].data() + 10), requests[i].size() - 10}};
    CHECK(ring.Write(id, v, 2, /*notify=*/false));
    expected[id] += requests[i];
    writes[id]++;
  }
  CHECK(RunUntil(ring, rec, [&] {
    for (uint32_t id : ids)
      if (rec.data[id].size() < expected[id].size()) return false;
    return true;
  }));
  for (uint32_t id : ids) {
    CHECK(rec.data[id] == expected[id]);
    CHECK(rec.written[id] == writes[id]);
    CHECK(rec.notified[id] == 0);  // no write asked to be told
    CHECK(ring.Close(id));
  }
  CHECK(RunUntil(ring, rec, [&] { return ring.connections() == 0; }));
  std::printf("ok stress: %zu connections to 6 servers, %d requests in flight, all echoed in order\n",
              ids.size(), kRequests);
}

void TestHeldSubmissions() {
  // Hold(): what Write and Process queue stays out of the kernel (the peer gets nothing, no
  // write completes) until Flush() sends it in one go, and completions do not signal the
  // eventfd until Wake(); then the echo comes back as usual.
  EchoServer server;
  Ring ring;
  std::string err;
  RingOptions o = Opts();
  o.send_at_once = false;  // TestSendAtOnceWhileHeld covers the default
  CHECK(ring.Init(o, &err));
  Recorder rec;
  int e = 0;
  const sockaddr_in a = server.Addr();
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
  CHECK(id != 0);
  CHECK(RunUntil(ring, rec, [&] { return rec.connected.count(id) == 1; }));
  const char x[] = "held-ping";
  iovec v{const_cast<char*>(x), 9};
  ring.Hold();
  CHECK(ring.Write(id, &v, 1));
  CHECK(ring.Write(id, &v, 1));
  for (int i = 0; i < 5; i++) {
    pollfd p{ring.event_fd(), POLLIN, 0};
    ::poll(&p, 1, 40);
    ring.Process(&rec);
  }
  CHECK(rec.data[id].empty());
  CHECK(rec.written[id] == 0);
  ring.Flush();
  // Still quiet: the send completed inside Flush's io_uring_enter (loopback), and is posted,
  // but the eventfd is not signalled for it until Wake().
  CHECK(ring.HasCompletions());
  pollfd quiet{ring.event_fd(), POLLIN, 0};
  CHECK(::poll(&quiet, 1, 0) == 0);
  ring.Wake();
  CHECK(RunUntil(ring, rec, [&] { return rec.data[id].size() >= 18; }));
  CHECK(rec.data[id] == "held-pingheld-ping");
  CHECK(rec.written[id] == 2);
  CHECK(ring.Close(id));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  std::puts("ok held submissions: nothing reaches the kernel before Flush(), all of it after; quiet until Wake()");
}

// A listening socket on 127.0.0.1 (any port, written to *a), for tests where the peer is the
// test itself.
int ListenLoopback(sockaddr_in* a) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  CHECK(lfd >= 0);
  *a = sockaddr_in{};
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::bind(lfd, reinterpret_cast<sockaddr*>(a), sizeof *a) == 0 && ::listen(lfd, 1) == 0);
  socklen_t alen = sizeof *a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(a), &alen);
  return lfd;
}

void TestSendAtOnceWhileHeld() {
  // The default (send_at_once): a Write that starts a send while the ring is held goes to the
  // kernel at once -- the peer has the bytes before Flush() -- while a write queued behind
  // that send waits for its completion, which Process() takes (quiet: no eventfd signal).
  sockaddr_in a{};
  const int lfd = ListenLoopback(&a);
  Ring ring;
  std::string err;
  RingOptions o = Opts();
  CHECK(o.send_at_once);
  CHECK(ring.Init(o, &err));
  Recorder rec;
  int e = 0;
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
  CHECK(id != 0);
  const int peer = ::accept(lfd, nullptr, nullptr);
  CHECK(peer >= 0);
  CHECK(RunUntil(ring, rec, [&] { return rec.connected.count(id) == 1; }));
  ring.Process(&rec);
  const char x[] = "first";
  const char y[] = "second";
  iovec vx{const_cast<char*>(x), 5};
  iovec vy{const_cast<char*>(y), 6};
  ring.Hold();
  CHECK(ring.Write(id, &vx, 1));
  CHECK(ring.Write(id, &vy, 1));  // behind the send in flight
  std::string got;
  char buf[64];
  pollfd pp{peer, POLLIN, 0};
  CHECK(::poll(&pp, 1, 2000) == 1);
  const ssize_t n = ::recv(peer, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n > 0);
  if (n > 0) got.assign(buf, static_cast<size_t>(n));
  CHECK(got == "first");  // before Flush(); the second waits for the first's completion
  pollfd quiet{ring.event_fd(), POLLIN, 0};
  CHECK(::poll(&quiet, 1, 0) == 0);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rec.written[id] < 1 && std::chrono::steady_clock::now() < end) ring.Process(&rec, /*clear_event=*/false);
  CHECK(rec.written[id] >= 1);
  // The completion started the queued write's send inside Process(): that one is a held
  // submission like the rest and goes at Flush().
  CHECK(::poll(&pp, 1, 50) == 0);
  ring.Flush();
  CHECK(::poll(&pp, 1, 2000) == 1);
  const ssize_t m = ::recv(peer, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(m == 6 && std::string(buf, 6) == "second");
  ring.Wake();
  CHECK(RunUntil(ring, rec, [&] { return rec.written[id] == 2; }));
  CHECK(ring.Close(id));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  ::close(peer);
  ::close(lfd);
  std::puts("ok send at once while held: the peer has a send's bytes before Flush(); a send started in Process() waits for it");
}

void TestWorkWhileHeld() {
  // A response that arrives while the ring is held and quiet (the JavaScript callback of a
  // wake-up is running) must neither be lost nor signal the eventfd: HasCompletions() reports
  // it without a system call -- with defer it is task work the kernel keeps for the next
  // enter (IORING_SQ_TASKRUN), with plain and coop a posted completion -- and Process() then
  // takes it. The peer here is the test itself, so the bytes arrive exactly while held.
  sockaddr_in a{};
  const int lfd = ListenLoopback(&a);
  Ring ring;
  std::string err;
  CHECK(ring.Init(Opts(), &err));
  CheckMode(ring);
  Recorder rec;
  int e = 0;
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
  CHECK(id != 0);
  const int peer = ::accept(lfd, nullptr, nullptr);
  CHECK(peer >= 0);
  CHECK(RunUntil(ring, rec, [&] { return rec.connected.count(id) == 1; }));
  ring.Process(&rec);  // the re-armed recv is in the kernel, nothing else is pending
  CHECK(!ring.HasCompletions());
  ring.Hold();
  CHECK(::send(peer, "while-held", 10, MSG_NOSIGNAL) == 10);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ring.HasCompletions() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ring.HasCompletions());
  pollfd quiet{ring.event_fd(), POLLIN, 0};
  CHECK(::poll(&quiet, 1, 0) == 0);
  CHECK(rec.data[id].empty());
  ring.Process(&rec, /*clear_event=*/false);
  CHECK(rec.data[id] == "while-held");
  ring.Flush();
  ring.Wake();
  CHECK(!ring.HasCompletions());
  CHECK(ring.Close(id));
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  ::close(peer);
  ::close(lfd);
  std::printf("ok work while held: seen by HasCompletions(), taken by Process(), no eventfd signal (%s)\n",
              kafka_turbo::io::TaskRunName(g_mode));
}

// kPoll: a peer that writes 4 MiB at once (more than read_budget per readiness report) and
// then ends the stream: every byte arrives in order, some ReadReady calls stop at the budget,
// and the end comes as OnClosed(0, eof) after the last byte.
void TestPollBudgetAndEof() {
  const std::string payload = Pattern(4 << 20, 11);
  sockaddr_in a{};
  const int lfd = ListenLoopback(&a);
  std::thread peer([&] {
    const int c = ::accept(lfd, nullptr, nullptr);
    for (size_t off = 0; off < payload.size();) {
      const ssize_t w = ::send(c, payload.data() + off, payload.size() - off, MSG_NOSIGNAL);
      CHECK(w > 0);
      off += static_cast<size_t>(w);
    }
    ::close(c);
  });
  Ring ring;
  std::string err;
  RingOptions o = Opts();
  o.read_buffer = 16 * 1024;
  o.read_budget = 64 * 1024;
  CHECK(ring.Init(o, &err));
  Recorder rec;
  int e = 0;
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
  CHECK(id != 0);
  const int more_before = g_read_more;
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  peer.join();
  ::close(lfd);
  CHECK(rec.data[id] == payload);
  CHECK(rec.closed[id].first == 0 && rec.closed[id].second);
  CHECK(g_read_more > more_before);
  CHECK(g_watcher.fds.empty());
  std::printf("ok poll recv: 4 MiB in reads of at most 64 KiB per readiness (%d stopped at the budget), then eof\n",
              g_read_more - more_before);
}

// kPoll: a peer that resets the connection (SO_LINGER 0) after a few bytes: the bytes arrive,
// then OnClosed(ECONNRESET), as with a ring recv.
void TestPollReset() {
  sockaddr_in a{};
  const int lfd = ListenLoopback(&a);
  Ring ring;
  std::string err;
  CHECK(ring.Init(Opts(), &err));
  Recorder rec;
  int e = 0;
  const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
  CHECK(id != 0);
  const int c = ::accept(lfd, nullptr, nullptr);
  CHECK(c >= 0);
  CHECK(RunUntil(ring, rec, [&] { return rec.connected.count(id) == 1; }));
  CHECK(::send(c, "abc", 3, 0) == 3);
  CHECK(RunUntil(ring, rec, [&] { return rec.data[id] == "abc"; }));
  linger l{1, 0};
  ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(c);
  CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  CHECK(rec.closed[id].first == ECONNRESET && !rec.closed[id].second);
  CHECK(g_watcher.fds.empty());
  ::close(lfd);
  std::puts("ok poll recv: the peer's reset -> OnClosed(ECONNRESET) after its bytes");
}

void TestTaskRunFallback() {
  // A kernel that refuses the mode's setup flags (EINVAL: older than them) gets today's flags,
  // says why, and works as before; ProbeTaskRun says the same beforehand.
  for (TaskRun want : {TaskRun::kDefer, TaskRun::kCoop}) {
    std::string why;
    CHECK(kafka_turbo::io::ProbeTaskRun(want, &why, /*refuse=*/true) == TaskRun::kPlain);
    CHECK(why.find(want == TaskRun::kDefer ? "IORING_SETUP_DEFER_TASKRUN" : "IORING_SETUP_COOP_TASKRUN") !=
          std::string::npos);
    EchoServer server;
    Ring ring;
    std::string err;
    RingOptions o;
    o.task_run = want;
    o.refuse_task_run = true;
    CHECK(ring.Init(o, &err));
    CHECK(ring.task_run() == TaskRun::kPlain);
    CHECK(ring.fallback() == why);
    Recorder rec;
    int e = 0;
    const sockaddr_in a = server.Addr();
    const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
    CHECK(id != 0);
    const char x[] = "fallback";
    iovec v{const_cast<char*>(x), 8};
    CHECK(ring.Write(id, &v, 1));
    CHECK(RunUntil(ring, rec, [&] { return rec.data[id].size() >= 8; }));
    CHECK(rec.data[id] == "fallback");
    CHECK(ring.Close(id));
    CHECK(RunUntil(ring, rec, [&] { return rec.closed.count(id) == 1; }));
  }
  // Plain asks for nothing, so nothing can be refused.
  std::string none;
  CHECK(kafka_turbo::io::ProbeTaskRun(TaskRun::kPlain, &none, true) == TaskRun::kPlain && none.empty());
  std::puts("ok task-work flags refused: plain, with the reason, and it works");
}

}  // namespace

int main() {
  std::string reason;
  if (!kafka_turbo::io::ProbeIoUring(&reason)) {
    std::fprintf(stderr, "io_uring refused here: %s\n", reason.c_str());
    return 2;
  }
  for (TaskRun mode : {TaskRun::kDefer, TaskRun::kCoop, TaskRun::kPlain}) {
    std::string why;
    if (kafka_turbo::io::ProbeTaskRun(mode, &why) != mode) {
      // An older kernel: the mode is not there to test (its fallback is, below).
      std::printf("skipped mode %s: %s\n", kafka_turbo::io::TaskRunName(mode), why.c_str());
      continue;
    }
    g_mode = mode;
    std::printf("mode %s\n", kafka_turbo::io::TaskRunName(mode));
    TestShortWritesAndReads();
    TestRefused();
    TestPeerClosesMidRequest();
    TestCloseWithWritesInFlight();
    TestStress();
    TestHeldSubmissions();
    TestSendAtOnceWhileHeld();
    TestWorkWhileHeld();
    // The destructor path: a ring with open connections closes them at once.
    {
      EchoServer s;
      Ring ring;
      std::string err;
      CHECK(ring.Init(Opts(), &err));
      int e = 0;
      const sockaddr_in a = s.Addr();
      CHECK(ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e) != 0);
    }
  }
  // The poll receive mode (RecvMode::kPoll) with the default task-work mode the kernel gives:
  // the tests that do not depend on an armed recv, then its own.
  {
    std::string why;
    g_mode = kafka_turbo::io::ProbeTaskRun(TaskRun::kDefer, &why);
    g_recv = RecvMode::kPoll;
    std::printf("recv poll (%s)\n", kafka_turbo::io::TaskRunName(g_mode));
    TestShortWritesAndReads();
    TestRefused();
    TestPeerClosesMidRequest();
    TestCloseWithWritesInFlight();
    TestStress();
    TestSendAtOnceWhileHeld();
    TestPollBudgetAndEof();
    TestPollReset();
    {
      EchoServer s;
      Ring ring;
      std::string err;
      CHECK(ring.Init(Opts(), &err));
      int e = 0;
      const sockaddr_in a = s.Addr();
      const uint32_t id = ring.Connect(reinterpret_cast<const sockaddr*>(&a), sizeof a, 0, 0, &e);
      Recorder rec;
      CHECK(RunUntil(ring, rec, [&] { return rec.connected.count(id) == 1; }));
      CHECK(g_watcher.fds.size() == 1);
    }  // the destructor ends the watch before it closes the socket
    CHECK(g_watcher.fds.empty() && g_watcher.watches == g_watcher.unwatches);
    RingOptions o;
    o.recv = RecvMode::kPoll;
    Ring ring;
    std::string err;
    CHECK(!ring.Init(o, &err) && err.find("ReadWatcher") != std::string::npos);
    std::printf("ok poll recv: every watch ended before its socket closed (%d), no watcher refused\n", g_watcher.watches);
    g_recv = RecvMode::kRing;
  }
  TestTaskRunFallback();
  std::puts("ring_test: all passed");
  return 0;
}
