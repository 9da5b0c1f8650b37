#pragma once
// Notices: what a run tells its user on stderr that is neither a result nor an error (the built-in
// model is used, a precision falls back, a file was written), and its progress lines. In a
// data-parallel job only rank 0 prints them, so the job says each thing once; every rank still
// prints its errors (on std::cerr, never through here).
#include <ostream>

namespace actionclip {

// std::cerr, or a stream that drops everything once notices are silenced.
std::ostream& notices();

// From now on this process prints no notices and no Progress lines (the other ranks of a job).
void silence_notices();
bool notices_enabled();

}  // namespace actionclip
