#include "models/training/distributed/communicator.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/bf16.h"

namespace dlf::training {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kProbeTag = 7;
constexpr int64_t kMaxMpiCount = 1 << 30;

std::atomic<int64_t> current_step{0};
int signal_rank = 0;

bool StartedByMpiLauncher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

// Async-signal-safe decimal formatting for the SIGTERM message.
char* AppendNumber(char* out, int64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

char* AppendText(char* out, const char* text) {
  while (*text) *out++ = *text++;
  return out;
}

// mpirun ends the job when one rank dies (or on Ctrl-C): it names that rank itself, we name
// the step.
void OnTerminate(int) {
  char line[200];
  char* p = AppendText(line, "rank ");
  p = AppendNumber(p, signal_rank);
  p = AppendText(p, ": stopped by the MPI launcher during step ");
  p = AppendNumber(p, current_step.load() + 1);
  p = AppendText(p, ": another rank ended or the job was interrupted (see the launcher's message)\n");
  [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, line, p - line);
  _exit(1);
}

void SumBf16Op(void* in, void* inout, int* len, MPI_Datatype*) {
  const uint16_t* a = static_cast<const uint16_t*>(in);
  uint16_t* b = static_cast<uint16_t*>(inout);
  const int n = *len;
#pragma omp simd
  for (int i = 0; i < n; ++i) b[i] = ToBf16(FromBf16(a[i]) + FromBf16(b[i]));
}

MPI_Op bf16_sum = MPI_OP_NULL;

absl::Status MpiError(int code, const std::string& what) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return absl::InternalError(absl::StrCat(what, ": MPI error: ", std::string(text, length)));
}

}  // namespace

void Communicator::SetCurrentStep(int64_t step) { current_step.store(step); }

std::unique_ptr<Communicator> Communicator::Single() {
  return std::unique_ptr<Communicator>(new Communicator());
}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Create(double timeout_s) {
  if (!(timeout_s > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--collective_timeout_s must be > 0, found ", timeout_s));
  }
  std::unique_ptr<Communicator> c = Single();
  c->timeout_s_ = timeout_s;
  if (!StartedByMpiLauncher()) return c;
  int provided = 0;
  if (int e = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided); e != MPI_SUCCESS) {
    return MpiError(e, "MPI_Init_thread");
  }
  c->owns_mpi_ = true;
  if (provided < MPI_THREAD_MULTIPLE) {
    return absl::FailedPreconditionError(
        "this MPI library does not allow MPI calls from several threads (MPI_THREAD_MULTIPLE)");
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &c->comm_);
  MPI_Comm_dup(MPI_COMM_WORLD, &c->probe_);
  MPI_Comm_rank(c->comm_, &c->rank_);
  MPI_Comm_size(c->comm_, &c->size_);
  MPI_Op_create(&SumBf16Op, /*commute=*/1, &bf16_sum);
  signal_rank = c->rank_;
  c->StartWatchdog();
  if (c->size_ > 1) {
    std::signal(SIGTERM, OnTerminate);
    // Open MPI allocates and frees temporary buffers as large as the message in every
    // allreduce. glibc serves those with fresh mmap()s (or, on other threads, from heaps it
    // shrinks again), and touching fresh pages is slow in virtual machines: an 86 MB
    // allreduce between 2 local ranks took 220-320 ms that way (67 MB from a second thread:
    // 205-215 ms) and 18-25 ms (14 ms) with one heap that keeps freed memory for reuse.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    mallopt(M_ARENA_MAX, 1);
  }
  return c;
}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Duplicate() {
  std::unique_ptr<Communicator> d = Single();
  d->rank_ = rank_;
  d->size_ = size_;
  d->timeout_s_ = timeout_s_;
  if (comm_ == MPI_COMM_NULL) return d;
  if (int e = MPI_Comm_dup(comm_, &d->comm_); e != MPI_SUCCESS) return MpiError(e, "MPI_Comm_dup");
  if (int e = MPI_Comm_dup(probe_, &d->probe_); e != MPI_SUCCESS) return MpiError(e, "MPI_Comm_dup");
  d->StartWatchdog();
  return d;
}

void Communicator::StartWatchdog() {
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

Communicator::~Communicator() {
  if (watchdog_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(watch_mu_);
      watch_stop_ = true;
    }
    watch_cv_.notify_all();
    watchdog_.join();
  }
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  if (probe_ != MPI_COMM_NULL) MPI_Comm_free(&probe_);
  if (owns_mpi_) {
    if (bf16_sum != MPI_OP_NULL) MPI_Op_free(&bf16_sum);
    MPI_Finalize();
  }
}

absl::Status Communicator::Allreduce(const std::vector<Part>& parts, MPI_Datatype type, MPI_Op op,
                                     const std::string& what, int64_t step) {
  if (size_ == 1) return absl::OkStatus();
  int type_size = 0;
  MPI_Type_size(type, &type_size);
  Watch watch(*this, what, step);
  for (const Part& part : parts) {
    for (int64_t first = 0; first < part.count; first += kMaxMpiCount) {
      const int count = static_cast<int>(std::min(kMaxMpiCount, part.count - first));
      char* data = static_cast<char*>(part.data) + first * type_size;
      if (int e = MPI_Allreduce(MPI_IN_PLACE, data, count, type, op, comm_); e != MPI_SUCCESS) {
        return MpiError(e, what);
      }
    }
  }
  return absl::OkStatus();
}

// Blocking collectives are about twice as fast as Open MPI's non-blocking ones here (86 MB
// between 2 local ranks: 18-23 ms vs 40-44 ms), so a collective blocks and a watchdog
// thread ends the run when one takes longer than the timeout.
Communicator::Watch::Watch(Communicator& c, const std::string& what, int64_t step) : c_(c) {
  std::lock_guard<std::mutex> lock(c_.watch_mu_);
  c_.watch_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(c_.timeout_s_));
  c_.watch_what_ = what;
  c_.watch_step_ = step;
  c_.watch_armed_ = true;
  c_.watch_cv_.notify_all();
}

Communicator::Watch::~Watch() {
  std::lock_guard<std::mutex> lock(c_.watch_mu_);
  c_.watch_armed_ = false;
  c_.watch_cv_.notify_all();
}

void Communicator::WatchdogLoop() {
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_stop_) {
    if (!watch_armed_) {
      watch_cv_.wait(lock);
      continue;
    }
    const Clock::time_point deadline = watch_deadline_;
    if (watch_cv_.wait_until(lock, deadline) != std::cv_status::timeout) continue;
    if (!watch_armed_ || watch_deadline_ != deadline) continue;
    const std::string what = watch_what_;
    const int64_t step = watch_step_;
    lock.unlock();
    Abort(TimedOut(what, step));
  }
}

absl::Status Communicator::TimedOut(const std::string& what, int64_t step) {
  // Every rank still running times out in the same collective: each tells all the others it is
  // here, and whoever is not heard from within the window is missing.
  std::vector<int> heard(size_, 0), token(size_, 0);
  std::vector<MPI_Request> receives(size_, MPI_REQUEST_NULL), sends(size_, MPI_REQUEST_NULL);
  heard[rank_] = 1;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Irecv(&token[r], 1, MPI_INT, r, kProbeTag, probe_, &receives[r]);
    MPI_Isend(&rank_, 1, MPI_INT, r, kProbeTag, probe_, &sends[r]);
  }
  const double window = std::clamp(timeout_s_ / 4, 1.0, 10.0);
  const Clock::time_point end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(window));
  while (Clock::now() < end && std::count(heard.begin(), heard.end(), 1) < size_) {
    for (int r = 0; r < size_; ++r) {
      if (!heard[r]) MPI_Test(&receives[r], &heard[r], MPI_STATUS_IGNORE);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<int> missing;
  for (int r = 0; r < size_; ++r) {
    if (!heard[r]) missing.push_back(r);
  }
  if (missing.empty()) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "%s of step %d did not complete within %g s (--collective_timeout_s), although every rank "
        "still answers",
        what, step + 1, timeout_s_));
  }
  return absl::DeadlineExceededError(absl::StrFormat(
      "rank%s %s did not take part in %s of step %d within %g s (--collective_timeout_s): it died, "
      "hangs or cannot be reached; stopping every rank",
      missing.size() > 1 ? "s" : "", absl::StrJoin(missing, ", "), what, step + 1, timeout_s_));
}

absl::Status Communicator::SumF32(const std::vector<Part>& parts, const std::string& what,
                                  int64_t step) {
  return Allreduce(parts, MPI_FLOAT, MPI_SUM, what, step);
}

absl::Status Communicator::SumBf16(uint16_t* data, int64_t n, const std::string& what,
                                   int64_t step) {
  return Allreduce({{data, n}}, MPI_UINT16_T, bf16_sum, what, step);
}

absl::Status Communicator::SumF64(double* data, int64_t n, const std::string& what, int64_t step) {
  return Allreduce({{data, n}}, MPI_DOUBLE, MPI_SUM, what, step);
}

absl::Status Communicator::MinMax(uint64_t value, uint64_t& min, uint64_t& max,
                                  const std::string& what, int64_t step) {
  uint64_t low = value, high = value;
  if (absl::Status s = Allreduce({{&low, 1}}, MPI_UINT64_T, MPI_MIN, what, step); !s.ok()) return s;
  if (absl::Status s = Allreduce({{&high, 1}}, MPI_UINT64_T, MPI_MAX, what, step); !s.ok()) return s;
  min = low;
  max = high;
  return absl::OkStatus();
}

absl::Status Communicator::Broadcast(void* data, int64_t bytes, const std::string& what) {
  if (size_ == 1) return absl::OkStatus();
  Watch watch(*this, what, current_step.load());
  for (int64_t first = 0; first < bytes; first += kMaxMpiCount) {
    const int count = static_cast<int>(std::min(kMaxMpiCount, bytes - first));
    if (int e = MPI_Bcast(static_cast<char*>(data) + first, count, MPI_BYTE, 0, comm_);
        e != MPI_SUCCESS) {
      return MpiError(e, what);
    }
  }
  return absl::OkStatus();
}

absl::Status Communicator::Agree(absl::Status local) {
  if (size_ == 1) return local;
  double failed = local.ok() ? 0 : 1;
  if (absl::Status s = SumF64(&failed, 1, "the check that every rank is ready", current_step.load());
      !s.ok()) {
    return s;
  }
  if (failed == 0) return absl::OkStatus();
  if (local.ok()) return absl::CancelledError("");
  if (failed == size_) return is_root() ? local : absl::CancelledError("");
  return absl::Status(local.code(), absl::StrCat("rank ", rank_, ": ", local.message()));
}

void Communicator::Abort(const absl::Status& why) {
  std::fflush(stdout);
  std::fprintf(stderr, "error: rank %d of %d: %s\n", rank_, size_, std::string(why.message()).c_str());
  std::fflush(stderr);
  if (comm_ != MPI_COMM_NULL) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

}  // namespace dlf::training
