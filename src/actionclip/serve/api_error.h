#pragma once
// An error a request caused, with the HTTP status and the OpenAI-style type and code it is
// answered with: {"error": {"code": CODE, "type": TYPE, "message": MESSAGE}}.
#include <string>

#include "actionclip/util/error.h"

namespace actionclip::serve {

class ApiError : public Error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : Error(message), status_(status), code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // OpenAI's error types by status class.
  std::string type() const {
    if (status_ == 401) return "authentication_error";
    if (status_ == 404) return "not_found_error";
    if (status_ == 429 || status_ == 503) return "server_busy_error";
    if (status_ >= 500) return "server_error";
    return "invalid_request_error";
  }

 private:
  int status_;
  std::string code_;
};

inline ApiError bad_request(const std::string& message, const std::string& code = "invalid_request") {
  return ApiError(400, code, message);
}

}  // namespace actionclip::serve
