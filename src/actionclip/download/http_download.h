#pragma once
// Downloads of files whose SHA-256 is known (released model weights), with libcurl: resumable,
// retried, verified, and moved into place only whole.
#include <string>

#include "actionclip/util/error.h"

namespace actionclip {

struct DownloadOptions {
  int retries = 5;                      // transient failures retried: timeouts, cut connections, 5xx
  double retry_delay_seconds = 1;       // before the first retry; doubled for each next one (at most 60 s)
  double connect_timeout_seconds = 30;  // to open the connection
  double stall_timeout_seconds = 60;    // a transfer that receives nothing for this long is cut (and retried)
  bool progress = true;                 // stderr: a line when it starts, a bar on a terminal, a line at the end
  std::string label;                    // what the progress names; default: the file name

  // The defaults above, overridden by ACTIONCLIP_DOWNLOAD_RETRIES, ACTIONCLIP_DOWNLOAD_RETRY_DELAY,
  // ACTIONCLIP_DOWNLOAD_CONNECT_TIMEOUT and ACTIONCLIP_DOWNLOAD_STALL_TIMEOUT (seconds).
  static DownloadOptions from_environment();
};

class DownloadError : public Error {
 public:
  enum class Kind {
    Offline,      // ACTIONCLIP_OFFLINE is set: nothing was sent
    Unreachable,  // no connection to the host (no network, unknown host, refused)
    HttpStatus,   // the server said no (404, 403, ...), or kept failing (5xx)
    Transfer,     // the transfer kept breaking off, or the file could not be written
    Mismatch,     // the bytes arrived but their SHA-256 is not the expected one
  };
  DownloadError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// True when ACTIONCLIP_OFFLINE is set to anything but "" or "0".
bool offline_mode();

// Makes `destination` the file at `url` whose SHA-256 is `expected_sha256` (lowercase hex).
// Bytes go to `destination`.part first, which a later call resumes with an HTTP Range request
// (a server that ignores the range sends the whole file, which then replaces the part). The
// hash is checked before the file is synced and renamed into place; a mismatch removes it.
// Processes fetching the same destination take turns through `destination`.lock; one whose
// turn comes when the file is there keeps it if its hash is right, as does a call for a file
// already there. Throws a DownloadError, or a FileError for the local files.
void download_verified(const std::string& url, const std::string& destination, const std::string& expected_sha256,
                       const DownloadOptions& options = DownloadOptions::from_environment());

}  // namespace actionclip
