#include "actionclip/download/http_download.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "actionclip/download/file_lock.h"
#include "actionclip/download/sha256.h"
#include "actionclip/download/transfer_progress.h"
#include "actionclip/io/atomic_file.h"

namespace actionclip {
namespace {

namespace fs = std::filesystem;

double environment_number(const char* name, double fallback, double minimum) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(value) || value < minimum)
    throw Error(std::string(name) + "='" + text + "' is not a number of at least " + std::to_string(minimum));
  return value;
}

void ensure_curl_initialised() {
  static const CURLcode initialised = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (initialised != CURLE_OK) throw Error(std::string("libcurl could not start: ") + curl_easy_strerror(initialised));
}

std::string host_of(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  return url.substr(start, url.find('/', start) - start);
}

// "0.25 s", "4 s": back-off delays, which tests set below a second.
std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s", seconds);
  return text;
}

uint64_t size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

bool starts_with_ignoring_case(const char* text, size_t length, const char* prefix) {
  const size_t n = std::strlen(prefix);
  if (length < n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  return true;
}

// One HTTP request's state, shared with libcurl's callbacks.
struct Request {
  CURL* curl = nullptr;
  FILE* file = nullptr;
  Sha256* hash = nullptr;
  TransferProgress* progress = nullptr;
  uint64_t offset = 0;    // bytes of the part before this request's body (0 once it restarted the part)
  uint64_t resumed = 0;   // bytes that were there before this download began (for the rate)
  bool body_started = false;
  bool wrong_range = false;  // a 206 that does not continue the part where it ends
  int write_errno = 0;
  int64_t content_range_start = -1;
  // libcurl's low-speed check averages over several seconds, so a transfer that stops after a
  // burst is caught late; this catches "nothing for stall_timeout" exactly.
  std::chrono::duration<double> stall_timeout{60};
  curl_off_t last_received = -1;
  std::chrono::steady_clock::time_point last_arrival = std::chrono::steady_clock::now();
  bool stalled = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& request = *static_cast<Request*>(user);
  const size_t length = size * count;
  if (starts_with_ignoring_case(data, length, "http/")) request.content_range_start = -1;  // a new response (redirects)
  if (starts_with_ignoring_case(data, length, "content-range:")) {
    const std::string value(data + 14, length - 14);
    const auto bytes = value.find("bytes");
    if (bytes != std::string::npos) request.content_range_start = std::strtoll(value.c_str() + bytes + 5, nullptr, 10);
  }
  return length;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& request = *static_cast<Request*>(user);
  const size_t length = size * count;
  if (!request.body_started) {
    request.body_started = true;
    long status = 0;
    curl_easy_getinfo(request.curl, CURLINFO_RESPONSE_CODE, &status);
    if (request.offset > 0 && status == 206 && request.content_range_start != static_cast<int64_t>(request.offset)) {
      request.wrong_range = true;
      return 0;
    }
    // The server ignored the range and sends the whole file: it replaces the part.
    if (request.offset > 0 && status != 206) {
      std::fflush(request.file);
      if (::ftruncate(::fileno(request.file), 0) != 0) {
        request.write_errno = errno;
        return 0;
      }
      request.hash->reset();
      request.offset = 0;
      request.resumed = 0;
    }
  }
  if (std::fwrite(data, 1, length, request.file) != length) {
    request.write_errno = errno;
    return 0;
  }
  request.hash->update(data, length);
  return length;
}

int on_transfer(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto& request = *static_cast<Request*>(user);
  const auto offset = request.offset;
  request.progress->update(offset + static_cast<uint64_t>(now), total > 0 ? offset + static_cast<uint64_t>(total) : 0,
                           request.resumed);
  const auto clock = std::chrono::steady_clock::now();
  // Until the connection stands, the connect timeout is the one that counts.
  curl_off_t connected = 0;
  curl_easy_getinfo(request.curl, CURLINFO_CONNECT_TIME_T, &connected);
  if (connected == 0 || now != request.last_received) {
    request.last_received = now;
    request.last_arrival = clock;
  } else if (clock - request.last_arrival > request.stall_timeout) {
    request.stalled = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

enum class Verdict { Complete, Retry, Fail };

struct Outcome {
  Verdict verdict;
  std::string reason;
  DownloadError::Kind kind = DownloadError::Kind::Transfer;
};

class Download {
 public:
  Download(const std::string& url, const std::string& destination, const std::string& expected_sha256,
           const DownloadOptions& options)
      : url_(url),
        destination_(destination),
        part_(destination + ".part"),
        expected_(expected_sha256),
        options_(options),
        progress_(options.label.empty() ? fs::path(destination).filename().string() : options.label, options.progress) {}

  void run() {
    const uint64_t resumed = size_or_zero(part_);
    if (options_.progress)
      std::cerr << "actionclip: downloading " << url_ << "\n            to " << destination_
                << (resumed ? " (resuming at " + format_bytes(resumed) + ")" : "") << std::endl;
    double delay = options_.retry_delay_seconds;
    for (int attempt = 0;; ++attempt) {
      const uint64_t before = size_or_zero(part_);
      const auto outcome = request(resumed);
      if (outcome.verdict == Verdict::Complete) return finish();
      if (outcome.verdict == Verdict::Fail) throw DownloadError(outcome.kind, outcome.reason);
      if (attempt >= options_.retries) {
        const auto kept = size_or_zero(part_);
        const auto tries = attempt > 0 ? " (" + std::to_string(attempt + 1) + " attempts)" : std::string();
        throw DownloadError(outcome.kind, outcome.reason + tries +
                                              (kept ? "; the " + format_bytes(kept) + " received are kept in " + part_ +
                                                          ", and the next run resumes from there"
                                                    : ""));
      }
      // A try that brought new bytes was a break in a working transfer, not a sign to slow down.
      if (size_or_zero(part_) > before) delay = options_.retry_delay_seconds;
      progress_.interrupt();
      if (options_.progress)
        std::cerr << "actionclip: " << outcome.reason << "; retrying in " << format_seconds(delay) << " (retry "
                  << attempt + 1 << " of " << options_.retries << ")" << std::endl;
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay = std::min(2 * delay, 60.0);
    }
  }

 private:
  Outcome request(uint64_t resumed) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(part_.c_str(), "ab"), std::fclose);
    if (!file) throw FileError(part_, std::string("cannot open for writing: ") + std::strerror(errno));
    Request state;
    state.file = file.get();
    state.hash = &hash_;
    state.progress = &progress_;
    state.offset = size_or_zero(part_);
    state.resumed = std::min(resumed, state.offset);
    state.stall_timeout = std::chrono::duration<double>(options_.stall_timeout_seconds);
    hash_.reset();
    digest_.reset();
    update_from_file(hash_, part_, state.offset);

    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw Error("libcurl could not create a transfer for " + url_);
    state.curl = curl.get();
    char error[CURL_ERROR_SIZE] = "";
    const auto range = std::to_string(state.offset) + "-";
    curl_easy_setopt(curl.get(), CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "actionclip");
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_seconds * 1000));
    // libcurl counts a stall in whole seconds: below one byte per second for that long.
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, std::max(1L, std::lround(options_.stall_timeout_seconds)));
    if (state.offset > 0) curl_easy_setopt(curl.get(), CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &state);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_transfer);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &state);
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    const CURLcode code = curl_easy_perform(curl.get());
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (std::fclose(file.release()) != 0 && !state.write_errno) state.write_errno = errno;
    const std::string detail = *error ? error : curl_easy_strerror(code);
    if (state.write_errno)
      throw FileError(part_, std::string("cannot write the download: ") + std::strerror(state.write_errno));
    return judge(code, status, detail, state);
  }

  Outcome judge(CURLcode code, long status, const std::string& detail, const Request& state) {
    using Kind = DownloadError::Kind;
    const std::string where = url_ + ": ";
    switch (code) {
      case CURLE_OK:
        // file:// URLs (a mirror on a shared disk) have no status.
        if (status == 0 || (status >= 200 && status < 300)) return {Verdict::Complete, {}};
        return {Verdict::Fail, where + "unexpected HTTP " + std::to_string(status), Kind::HttpStatus};
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return {Verdict::Fail, unreachable(detail), Kind::Unreachable};
      case CURLE_ABORTED_BY_CALLBACK:
      case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        curl_easy_getinfo(state.curl, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0 && !state.stalled) return {Verdict::Fail, unreachable(detail), Kind::Unreachable};
        return {Verdict::Retry, where + "the transfer stalled (nothing received for " +
                                    format_seconds(options_.stall_timeout_seconds) + ")"};
      }
      case CURLE_WRITE_ERROR:
        if (state.wrong_range) {
          remove_part();
          return {Verdict::Retry, where + "the server sent another range than the one asked for; starting over"};
        }
        return {Verdict::Fail, where + detail};
      case CURLE_HTTP_RETURNED_ERROR:
        // The part is as long as the file, or longer: whole if its hash is right, else start over.
        if (status == 416 && state.offset > 0) {
          digest_ = hash_.finish_hex();
          if (*digest_ == expected_) return {Verdict::Complete, {}};
          remove_part();
          return {Verdict::Retry, where + "the partial file does not continue into the published one; starting over"};
        }
        if (status == 408 || status == 429 || status >= 500)
          return {Verdict::Retry, where + "the server answered HTTP " + std::to_string(status), Kind::HttpStatus};
        return {Verdict::Fail, where + "the server answered HTTP " + std::to_string(status) +
                                   (status == 404 ? " (not found): no such file there" : ""),
                Kind::HttpStatus};
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
        return {Verdict::Retry, where + "the transfer broke off (" + detail + ")"};
      default:
        return {Verdict::Fail, where + detail};
    }
  }

  std::string unreachable(const std::string& detail) const {
    return "cannot connect to " + host_of(url_) + " (" + detail + "): without a network, download " + url_ +
           " by other means and put it at " + destination_;
  }

  void finish() {
    const auto actual = digest_ ? *digest_ : hash_.finish_hex();
    if (actual != expected_) {
      remove_part();
      progress_.interrupt();
      throw DownloadError(DownloadError::Kind::Mismatch,
                          url_ + ": the downloaded file's SHA-256 is " + actual + ", but " + expected_ +
                              " was expected; the file was removed, and nothing was put at " + destination_ +
                              " (a corrupt transfer, or a server or mirror with other bytes)");
    }
    io::move_into_place(part_, destination_);
    progress_.finish();
  }

  void remove_part() const {
    std::error_code ignored;
    fs::remove(part_, ignored);
  }

  std::string url_, destination_, part_, expected_;
  DownloadOptions options_;
  TransferProgress progress_;
  Sha256 hash_;               // of the part's bytes
  std::optional<std::string> digest_;  // the part's hash, when a request already finished it
};

}  // namespace

DownloadOptions DownloadOptions::from_environment() {
  DownloadOptions options;
  options.retries = static_cast<int>(environment_number("ACTIONCLIP_DOWNLOAD_RETRIES", options.retries, 0));
  options.retry_delay_seconds = environment_number("ACTIONCLIP_DOWNLOAD_RETRY_DELAY", options.retry_delay_seconds, 0);
  options.connect_timeout_seconds =
      environment_number("ACTIONCLIP_DOWNLOAD_CONNECT_TIMEOUT", options.connect_timeout_seconds, 0.001);
  options.stall_timeout_seconds = environment_number("ACTIONCLIP_DOWNLOAD_STALL_TIMEOUT", options.stall_timeout_seconds, 1);
  return options;
}

bool offline_mode() {
  const char* value = std::getenv("ACTIONCLIP_OFFLINE");
  return value && *value && std::string(value) != "0";
}

void download_verified(const std::string& url, const std::string& destination, const std::string& expected_sha256,
                       const DownloadOptions& options) {
  if (offline_mode())
    throw DownloadError(DownloadError::Kind::Offline,
                        "ACTIONCLIP_OFFLINE is set, so nothing is downloaded: download " + url +
                            " by other means and put it at " + destination);
  const auto folder = fs::path(destination).parent_path();
  std::error_code ec;
  if (!folder.empty()) fs::create_directories(folder, ec);
  if (ec) throw FileError(folder.string(), "cannot create the folder to download into: " + ec.message());
  FileLock lock(destination + ".lock", [&] {
    if (options.progress) std::cerr << "actionclip: waiting for another process downloading " << destination << std::endl;
  });
  if (fs::exists(destination)) {
    if (!fs::is_regular_file(destination)) throw FileError(destination, "is in the way of a download: not a regular file");
    if (sha256_file(destination) == expected_sha256) return;
    std::cerr << "actionclip: " << destination << " is there, but its SHA-256 is not " << expected_sha256
              << "; downloading it again" << std::endl;
  }
  ensure_curl_initialised();
  Download(url, destination, expected_sha256, options).run();
}

}  // namespace actionclip
