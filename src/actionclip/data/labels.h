#pragma once
// Class-name vocabularies: the text side of video-text matching. Label i is the name of class id i.
//
// read_label_file accepts the formats in circulation and tells them apart by content:
//   ActionCLIP CSV   "id,name" header, then "0,abseiling" rows (0-based ids, in any order; quoted
//                    fields such as "cutting, slicing" may hold commas; a UTF-8 BOM is ignored)
//   classInd         "1 ApplyEyeMakeup": an integer, whitespace, the name (UCF-101, 1-based ids)
//   plain            one name per line, the line number (blank lines not counted) being the id
// A file is classInd only when every line has that shape, so a plain list whose first name
// starts with a number stays a plain list. CRLF line endings and surrounding blanks are
// stripped, blank lines skipped. Ids must cover 0..n-1 (CSV) or 1..n (classInd) exactly once:
// a gap or repeat means the file does not match the dataset, which would silently shift every
// label after it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actionclip::data {

// Throws actionclip::FileError ("<path>: line N: why") for an unreadable or malformed file, or
// one with no labels.
std::vector<std::string> read_label_file(const std::string& path);

// "walking, running,\"cutting, slicing\"" -> {"walking", "running", "cutting, slicing"}: the
// CSV fields of one line, trimmed, empty ones dropped, for class lists given on a command line.
// Throws actionclip::Error on an unterminated quote.
std::vector<std::string> parse_label_list(const std::string& comma_separated);

// The fields of one CSV record, RFC 4180 quoting ("" is a literal quote inside a quoted field),
// each trimmed of surrounding blanks. nullopt for an unterminated quote: records spanning lines
// do not occur in annotation files, so one is taken as a broken line.
std::optional<std::vector<std::string>> split_csv_record(std::string_view line);

// Dataset identifiers as words, since text encoders were trained on prose:
// "ApplyEyeMakeup" -> "apply eye makeup", "YoYo" -> "yo yo", "brush_hair" -> "brush hair",
// "TVShow" -> "tv show", "Top10" -> "top 10". Names already in words only lose capitals.
std::string humanize_label(std::string_view label);

}  // namespace actionclip::data
