#include "actionclip/clip/tokenizer.h"

#include <utf8proc.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actionclip/util/error.h"

namespace actionclip {
namespace {

using Text = std::u32string;  // code points: the reference's str, so its rules apply verbatim

constexpr std::string_view kStartOfText = "<|startoftext|>";
constexpr std::string_view kEndOfText = "<|endoftext|>";
constexpr std::string_view kEndOfWord = "</w>";
// merges[1:49152-256-2+1] in the reference: the vocabulary is 256 bytes, 256 word-final bytes,
// these merges and the two special tokens, 49408 in all.
constexpr size_t kClipMerges = 49152 - 256 - 2;

// ---------------------------------------------------------------------------------------------
// Unicode helpers

void append_utf8(std::string& out, char32_t c) {
  utf8proc_uint8_t bytes[4];
  const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), bytes);
  out.append(reinterpret_cast<const char*>(bytes), static_cast<size_t>(n));
}

std::string to_utf8(const char32_t* begin, const char32_t* end) {
  std::string out;
  out.reserve(static_cast<size_t>(end - begin));
  for (const char32_t* c = begin; c != end; ++c) append_utf8(out, *c);
  return out;
}

// The regex module's \s (the White_Space property), used by the pre-tokeniser and whitespace_clean.
bool is_regex_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// Python's str.isspace, used by str.strip: also counts the information separators U+001C..U+001F.
bool is_python_space(char32_t c) { return is_regex_space(c) || (c >= 0x1C && c <= 0x1F); }

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  const auto cat = category(c);
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto cat = category(c);
  return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}

// Decodes UTF-8 after composing it to NFC, the normalisation ftfy.fix_text ends with.
Text nfc_code_points(const std::string& text) {
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; });
  if (ascii) return Text(text.begin(), text.end());

  utf8proc_uint8_t* composed = nullptr;
  const auto length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &composed, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) throw Error("tokenizer: text is not valid UTF-8 (" + std::string(utf8proc_errmsg(length)) + ")");
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(composed, &std::free);

  Text out;
  out.reserve(static_cast<size_t>(length));
  for (utf8proc_ssize_t i = 0; i < length;) {
    utf8proc_int32_t c;
    i += utf8proc_iterate(composed + i, length - i, &c);
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Python's html.unescape

struct Entity {
  std::string_view name;
  char32_t value;
  bool legacy;  // also recognised without the ';' (HTML5 keeps these for old pages)
};

// The HTML 4 entities (with HTML5's values), &apos; and HTML5's legacy upper-case aliases, sorted by
// name for binary search. Python knows all 2231 HTML5 names; the rarer ones (&NewLine;, &colon;, ...)
// stay text here, which keeps the table small at the cost of exactness on them.
// clang-format off
constexpr Entity kEntities[] = {
    {"AElig", 0xC6, true}, {"AMP", 0x26, true}, {"Aacute", 0xC1, true}, {"Acirc", 0xC2, true},
    {"Agrave", 0xC0, true}, {"Alpha", 0x391, false}, {"Aring", 0xC5, true}, {"Atilde", 0xC3, true},
    {"Auml", 0xC4, true}, {"Beta", 0x392, false}, {"COPY", 0xA9, true}, {"Ccedil", 0xC7, true},
    {"Chi", 0x3A7, false}, {"Dagger", 0x2021, false}, {"Delta", 0x394, false}, {"ETH", 0xD0, true},
    {"Eacute", 0xC9, true}, {"Ecirc", 0xCA, true}, {"Egrave", 0xC8, true}, {"Epsilon", 0x395, false},
    {"Eta", 0x397, false}, {"Euml", 0xCB, true}, {"GT", 0x3E, true}, {"Gamma", 0x393, false},
    {"Iacute", 0xCD, true}, {"Icirc", 0xCE, true}, {"Igrave", 0xCC, true}, {"Iota", 0x399, false},
    {"Iuml", 0xCF, true}, {"Kappa", 0x39A, false}, {"LT", 0x3C, true}, {"Lambda", 0x39B, false},
    {"Mu", 0x39C, false}, {"Ntilde", 0xD1, true}, {"Nu", 0x39D, false}, {"OElig", 0x152, false},
    {"Oacute", 0xD3, true}, {"Ocirc", 0xD4, true}, {"Ograve", 0xD2, true}, {"Omega", 0x3A9, false},
    {"Omicron", 0x39F, false}, {"Oslash", 0xD8, true}, {"Otilde", 0xD5, true}, {"Ouml", 0xD6, true},
    {"Phi", 0x3A6, false}, {"Pi", 0x3A0, false}, {"Prime", 0x2033, false}, {"Psi", 0x3A8, false},
    {"QUOT", 0x22, true}, {"REG", 0xAE, true}, {"Rho", 0x3A1, false}, {"Scaron", 0x160, false},
    {"Sigma", 0x3A3, false}, {"THORN", 0xDE, true}, {"Tau", 0x3A4, false}, {"Theta", 0x398, false},
    {"Uacute", 0xDA, true}, {"Ucirc", 0xDB, true}, {"Ugrave", 0xD9, true}, {"Upsilon", 0x3A5, false},
    {"Uuml", 0xDC, true}, {"Xi", 0x39E, false}, {"Yacute", 0xDD, true}, {"Yuml", 0x178, false},
    {"Zeta", 0x396, false}, {"aacute", 0xE1, true}, {"acirc", 0xE2, true}, {"acute", 0xB4, true},
    {"aelig", 0xE6, true}, {"agrave", 0xE0, true}, {"alefsym", 0x2135, false},
    {"alpha", 0x3B1, false}, {"amp", 0x26, true}, {"and", 0x2227, false}, {"ang", 0x2220, false},
    {"apos", 0x27, false}, {"aring", 0xE5, true}, {"asymp", 0x2248, false}, {"atilde", 0xE3, true},
    {"auml", 0xE4, true}, {"bdquo", 0x201E, false}, {"beta", 0x3B2, false}, {"brvbar", 0xA6, true},
    {"bull", 0x2022, false}, {"cap", 0x2229, false}, {"ccedil", 0xE7, true}, {"cedil", 0xB8, true},
    {"cent", 0xA2, true}, {"chi", 0x3C7, false}, {"circ", 0x2C6, false}, {"clubs", 0x2663, false},
    {"cong", 0x2245, false}, {"copy", 0xA9, true}, {"crarr", 0x21B5, false}, {"cup", 0x222A, false},
    {"curren", 0xA4, true}, {"dArr", 0x21D3, false}, {"dagger", 0x2020, false},
    {"darr", 0x2193, false}, {"deg", 0xB0, true}, {"delta", 0x3B4, false}, {"diams", 0x2666, false},
    {"divide", 0xF7, true}, {"eacute", 0xE9, true}, {"ecirc", 0xEA, true}, {"egrave", 0xE8, true},
    {"empty", 0x2205, false}, {"emsp", 0x2003, false}, {"ensp", 0x2002, false},
    {"epsilon", 0x3B5, false}, {"equiv", 0x2261, false}, {"eta", 0x3B7, false}, {"eth", 0xF0, true},
    {"euml", 0xEB, true}, {"euro", 0x20AC, false}, {"exist", 0x2203, false}, {"fnof", 0x192, false},
    {"forall", 0x2200, false}, {"frac12", 0xBD, true}, {"frac14", 0xBC, true},
    {"frac34", 0xBE, true}, {"frasl", 0x2044, false}, {"gamma", 0x3B3, false}, {"ge", 0x2265, false},
    {"gt", 0x3E, true}, {"hArr", 0x21D4, false}, {"harr", 0x2194, false}, {"hearts", 0x2665, false},
    {"hellip", 0x2026, false}, {"iacute", 0xED, true}, {"icirc", 0xEE, true}, {"iexcl", 0xA1, true},
    {"igrave", 0xEC, true}, {"image", 0x2111, false}, {"infin", 0x221E, false},
    {"int", 0x222B, false}, {"iota", 0x3B9, false}, {"iquest", 0xBF, true}, {"isin", 0x2208, false},
    {"iuml", 0xEF, true}, {"kappa", 0x3BA, false}, {"lArr", 0x21D0, false}, {"lambda", 0x3BB, false},
    {"lang", 0x27E8, false}, {"laquo", 0xAB, true}, {"larr", 0x2190, false},
    {"lceil", 0x2308, false}, {"ldquo", 0x201C, false}, {"le", 0x2264, false},
    {"lfloor", 0x230A, false}, {"lowast", 0x2217, false}, {"loz", 0x25CA, false},
    {"lrm", 0x200E, false}, {"lsaquo", 0x2039, false}, {"lsquo", 0x2018, false}, {"lt", 0x3C, true},
    {"macr", 0xAF, true}, {"mdash", 0x2014, false}, {"micro", 0xB5, true}, {"middot", 0xB7, true},
    {"minus", 0x2212, false}, {"mu", 0x3BC, false}, {"nabla", 0x2207, false}, {"nbsp", 0xA0, true},
    {"ndash", 0x2013, false}, {"ne", 0x2260, false}, {"ni", 0x220B, false}, {"not", 0xAC, true},
    {"notin", 0x2209, false}, {"nsub", 0x2284, false}, {"ntilde", 0xF1, true}, {"nu", 0x3BD, false},
    {"oacute", 0xF3, true}, {"ocirc", 0xF4, true}, {"oelig", 0x153, false}, {"ograve", 0xF2, true},
    {"oline", 0x203E, false}, {"omega", 0x3C9, false}, {"omicron", 0x3BF, false},
    {"oplus", 0x2295, false}, {"or", 0x2228, false}, {"ordf", 0xAA, true}, {"ordm", 0xBA, true},
    {"oslash", 0xF8, true}, {"otilde", 0xF5, true}, {"otimes", 0x2297, false}, {"ouml", 0xF6, true},
    {"para", 0xB6, true}, {"part", 0x2202, false}, {"permil", 0x2030, false},
    {"perp", 0x22A5, false}, {"phi", 0x3C6, false}, {"pi", 0x3C0, false}, {"piv", 0x3D6, false},
    {"plusmn", 0xB1, true}, {"pound", 0xA3, true}, {"prime", 0x2032, false}, {"prod", 0x220F, false},
    {"prop", 0x221D, false}, {"psi", 0x3C8, false}, {"quot", 0x22, true}, {"rArr", 0x21D2, false},
    {"radic", 0x221A, false}, {"rang", 0x27E9, false}, {"raquo", 0xBB, true},
    {"rarr", 0x2192, false}, {"rceil", 0x2309, false}, {"rdquo", 0x201D, false},
    {"real", 0x211C, false}, {"reg", 0xAE, true}, {"rfloor", 0x230B, false}, {"rho", 0x3C1, false},
    {"rlm", 0x200F, false}, {"rsaquo", 0x203A, false}, {"rsquo", 0x2019, false},
    {"sbquo", 0x201A, false}, {"scaron", 0x161, false}, {"sdot", 0x22C5, false},
    {"sect", 0xA7, true}, {"shy", 0xAD, true}, {"sigma", 0x3C3, false}, {"sigmaf", 0x3C2, false},
    {"sim", 0x223C, false}, {"spades", 0x2660, false}, {"sub", 0x2282, false},
    {"sube", 0x2286, false}, {"sum", 0x2211, false}, {"sup", 0x2283, false}, {"sup1", 0xB9, true},
    {"sup2", 0xB2, true}, {"sup3", 0xB3, true}, {"supe", 0x2287, false}, {"szlig", 0xDF, true},
    {"tau", 0x3C4, false}, {"there4", 0x2234, false}, {"theta", 0x3B8, false},
    {"thetasym", 0x3D1, false}, {"thinsp", 0x2009, false}, {"thorn", 0xFE, true},
    {"tilde", 0x2DC, false}, {"times", 0xD7, true}, {"trade", 0x2122, false},
    {"uArr", 0x21D1, false}, {"uacute", 0xFA, true}, {"uarr", 0x2191, false}, {"ucirc", 0xFB, true},
    {"ugrave", 0xF9, true}, {"uml", 0xA8, true}, {"upsih", 0x3D2, false}, {"upsilon", 0x3C5, false},
    {"uuml", 0xFC, true}, {"weierp", 0x2118, false}, {"xi", 0x3BE, false}, {"yacute", 0xFD, true},
    {"yen", 0xA5, true}, {"yuml", 0xFF, true}, {"zeta", 0x3B6, false}, {"zwj", 0x200D, false},
    {"zwnj", 0x200C, false}
};
// clang-format on

const Entity* find_entity(std::string_view name) {
  const auto it = std::lower_bound(std::begin(kEntities), std::end(kEntities), name,
                                   [](const Entity& e, std::string_view n) { return e.name < n; });
  return it != std::end(kEntities) && it->name == name ? it : nullptr;
}

// What &#N; turns into: HTML5 reads C1 controls as Windows-1252, as browsers do, and drops code
// points that may not appear in a document.
void append_char_reference(Text& out, uint32_t code) {
  static constexpr char32_t kWindows1252[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                                0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                                0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                                0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  if (code == 0) return out.push_back(0xFFFD);
  if (code == '\r') return out.push_back('\r');
  if (code >= 0x80 && code <= 0x9F) return out.push_back(kWindows1252[code - 0x80]);
  if ((code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return out.push_back(0xFFFD);
  const bool forbidden = (code >= 0x1 && code <= 0x8) || code == 0xB || (code >= 0xE && code <= 0x1F) || code == 0x7F ||
                         (code >= 0xFDD0 && code <= 0xFDEF) || (code & 0xFFFE) == 0xFFFE;
  if (!forbidden) out.push_back(code);
}

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

// One match of html.unescape's pattern
//   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
// starting at s[at] == '&'. Appends its replacement and returns the end of the match, or returns
// `at` (appending nothing) where the pattern does not match.
size_t unescape_reference(const Text& s, size_t at, Text& out) {
  size_t i = at + 1;
  if (i < s.size() && s[i] == '#') {
    const bool hex = i + 1 < s.size() && (s[i + 1] | 0x20) == 'x';
    const auto is_digit = hex ? is_ascii_hex : is_ascii_digit;
    size_t end = i + (hex ? 2 : 1);
    if (end >= s.size() || !is_digit(s[end])) return at;
    // Saturates: every value past U+10FFFF is replaced the same way.
    uint32_t code = 0;
    for (; end < s.size() && is_digit(s[end]); ++end) {
      const uint32_t digit = is_ascii_digit(s[end]) ? s[end] - '0' : (s[end] | 0x20) - 'a' + 10;
      code = std::min<uint32_t>(code * (hex ? 16 : 10) + digit, 0x110000);
    }
    append_char_reference(out, code);
    return end < s.size() && s[end] == ';' ? end + 1 : end;
  }

  constexpr std::u32string_view kNameStop = U"\t\n\f <&#;";
  size_t end = i;
  while (end < s.size() && end - i < 32 && kNameStop.find(s[end]) == std::u32string_view::npos) ++end;
  if (end == i) return at;
  const bool semicolon = end < s.size() && s[end] == ';';
  const size_t match_end = end + (semicolon ? 1 : 0);

  // Entity names are ASCII, so only the name's ASCII prefix can match one.
  std::string name;
  for (size_t k = i; k < end && s[k] < 0x80; ++k) name.push_back(static_cast<char>(s[k]));
  if (semicolon && name.size() == end - i) {
    if (const Entity* e = find_entity(name)) {
      out.push_back(e->value);
      return match_end;
    }
  }
  // Without a match for the whole name, the longest legacy entity the name starts with stands for
  // itself and the rest is kept: "&ampfoo" -> "&foo".
  for (size_t length = name.size(); length >= 2; --length) {
    const Entity* e = find_entity(std::string_view(name).substr(0, length));
    if (e && e->legacy) {
      out.push_back(e->value);
      out.append(s, i + length, match_end - i - length);
      return match_end;
    }
  }
  return at;
}

Text html_unescape(const Text& s) {
  if (s.find(U'&') == Text::npos) return s;
  Text out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t next = s[i] == '&' ? unescape_reference(s, i, out) : i;
    if (next == i)
      out.push_back(s[i++]);
    else
      i = next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// whitespace_clean and str.lower

// re.sub(r'\s+', ' ', text).strip(). The reference's earlier strip() in basic_clean is implied:
// collapsing keeps whitespace runs whitespace, so both strip the same characters from the ends.
Text whitespace_clean(const Text& s) {
  Text out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (!is_regex_space(s[i])) {
      out.push_back(s[i++]);
      continue;
    }
    out.push_back(' ');
    while (i < s.size() && is_regex_space(s[i])) ++i;
  }
  const auto first = std::find_if_not(out.begin(), out.end(), is_python_space);
  const auto last = std::find_if_not(out.rbegin(), std::make_reverse_iterator(first), is_python_space).base();
  return Text(first, last);
}

bool is_cased(char32_t c) {
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
         utf8proc_islower(static_cast<utf8proc_int32_t>(c)) || utf8proc_isupper(static_cast<utf8proc_int32_t>(c));
}

bool is_case_ignorable(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:  // Word_Break MidLetter, MidNumLet and Single_Quote
      return std::u32string_view(
                 U"'.:\u00B7\u0387\u055F\u05F4\u2018\u2019\u2024\u2027\uFE13\uFE52\uFE55\uFF07\uFF0E\uFF1A")
                 .find(c) != std::u32string_view::npos;
  }
}

// CPython's Final_Sigma test: a cased letter before (skipping case-ignorables), none after.
bool is_final_sigma(const Text& s, size_t at) {
  size_t j = at;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  j = at + 1;
  while (j < s.size() && is_case_ignorable(s[j])) ++j;
  return j == s.size() || !is_cased(s[j]);
}

// Python's str.lower: the simple mappings plus SpecialCasing's two unconditional lowercase rules.
Text lowercase(const Text& s) {
  Text out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == 0x130) {  // İ
      out.append(U"i\u0307");
    } else if (c == 0x3A3) {  // Σ
      out.push_back(is_final_sigma(s, i) ? 0x3C2 : 0x3C3);
    } else {
      out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenisation

// Under IGNORECASE the regex module also lets U+017F (long s) match 's'; every other character that
// folds to one of the ASCII letters below is gone after lowercasing.
bool matches_ignoring_case(char32_t c, char pattern) {
  return c == char32_t(pattern) || (pattern == 's' && c == 0x17F);
}

size_t match_literal(const Text& s, size_t at, std::string_view literal) {
  if (s.size() - at < literal.size()) return 0;
  for (size_t k = 0; k < literal.size(); ++k)
    if (!matches_ignoring_case(s[at + k], literal[k])) return 0;
  return literal.size();
}

// 's|'t|'re|'ve|'m|'ll|'d
size_t match_contraction(const Text& s, size_t at) {
  if (s[at] != '\'') return 0;
  for (const std::string_view suffix : {"s", "t", "re", "ve", "m", "ll", "d"})
    if (match_literal(s, at + 1, suffix)) return 1 + suffix.size();
  return 0;
}

// U+0345 (combining ypogegrammeni, Mn) folds to a Greek letter, so under IGNORECASE it falls out of
// [^\s\p{L}\p{N}] yet still fails [\p{L}]: no alternative matches it and it is dropped.
bool is_symbol(char32_t c) { return !is_regex_space(c) && !is_letter(c) && !is_number(c) && c != 0x345; }

// Spans of the reference's pattern (regex module, IGNORECASE) as re.findall yields them:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// The alternatives are tried in order at each position; where none matches, findall moves on.
std::vector<std::pair<size_t, size_t>> pretokenize(const Text& s) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < s.size();) {
    size_t length = match_literal(s, i, kStartOfText);
    if (!length) length = match_literal(s, i, kEndOfText);
    if (!length) length = match_contraction(s, i);
    if (!length && is_letter(s[i])) {
      while (i + length < s.size() && is_letter(s[i + length])) ++length;
    }
    if (!length && is_number(s[i])) length = 1;
    if (!length && is_symbol(s[i])) {
      while (i + length < s.size() && is_symbol(s[i + length])) ++length;
    }
    if (length) spans.emplace_back(i, i + length);
    i += std::max<size_t>(length, 1);
  }
  return spans;
}

// The reference's whitespace_clean(basic_clean(text)).lower(), where basic_clean is ftfy.fix_text
// (here its final NFC step) and html.unescape twice, cut into its pre-tokens (UTF-8).
std::vector<std::string> cleaned_pieces(const std::string& text) {
  const Text clean = lowercase(whitespace_clean(html_unescape(html_unescape(nfc_code_points(text)))));
  std::vector<std::string> pieces;
  for (const auto& [begin, end] : pretokenize(clean)) pieces.push_back(to_utf8(clean.data() + begin, clean.data() + end));
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// Files

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves and the others for 256 + n,
// so every token in a merges file is visible text.
std::array<char32_t, 256> byte_characters() {
  std::array<char32_t, 256> chars{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    chars[b] = printable ? char32_t(b) : next++;
  }
  return chars;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw FileError(path, "read failed");
  return content.str();
}

std::string read_gzip(const std::string& path) {
  errno = 0;
  const std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) throw FileError(path, std::string("cannot open: ") + std::strerror(errno ? errno : ENOMEM));
  auto fail_if_broken = [&] {
    int code = Z_OK;
    const char* message = gzerror(file.get(), &code);
    // A stream that stops early ends reading without a failed gzread: only gzerror tells.
    if (code != Z_OK) throw FileError(path, std::string("corrupt or truncated gzip data (") + message + ")");
  };

  std::string content;
  char buffer[1 << 16];
  for (int n; (n = gzread(file.get(), buffer, sizeof buffer)) > 0;) content.append(buffer, static_cast<size_t>(n));
  fail_if_broken();
  // zlib passes files without a gzip header through unchanged.
  if (gzdirect(file.get())) throw FileError(path, "not a gzip file");
  return content;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t begin = 0;;) {
    const size_t end = text.find('\n', begin);
    lines.push_back(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return lines;
    begin = end + 1;
  }
}

// str.split() on a merges line; returns the number of fields found (at most 3 are kept).
size_t split_fields(std::string_view line, std::array<std::string_view, 3>& fields) {
  size_t count = 0;
  constexpr std::string_view kSpace = " \t\r\v\f";
  for (size_t begin = line.find_first_not_of(kSpace); begin != std::string_view::npos;) {
    const size_t end = std::min(line.find_first_of(kSpace, begin), line.size());
    if (count < fields.size()) fields[count] = line.substr(begin, end - begin);
    ++count;
    begin = line.find_first_not_of(kSpace, end);
  }
  return count;
}

struct MergeLine {
  std::string left, right;
  size_t line;  // 1-based, for messages
};

MergeLine parse_merge(std::string_view text, size_t line, const std::string& path) {
  std::array<std::string_view, 3> fields;
  if (split_fields(text, fields) != 2)
    throw FileError(path, "line " + std::to_string(line) + ": expected a merge \"a b\", found \"" +
                              std::string(text.substr(0, 80)) + "\"");
  return {std::string(fields[0]), std::string(fields[1]), line};
}

uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Vocabulary

struct Tokenizer::Vocabulary {
  static constexpr int32_t kNoMerge = std::numeric_limits<int32_t>::max();
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  using Encoder = std::unordered_map<std::string, int32_t>;

  // Words are BPE-encoded as ids from the start: every symbol the merges can form is a token, so
  // comparing ids is comparing the reference's strings, without building any.
  std::array<int32_t, 256> byte_ids{};         // a byte inside a word
  std::array<int32_t, 256> final_byte_ids{};   // the same byte ending a word ("</w>" appended)
  std::unordered_map<uint64_t, Merge> merges;  // (left, right) -> merge
  std::vector<std::string> tokens;             // id -> token
  int64_t sot = 0, eot = 0, size = 0;

  // Pre-token -> ids, as the reference caches; cleared when full, so arbitrary input cannot grow it
  // without limit.
  static constexpr size_t kCacheLimit = 1 << 16;
  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  static std::shared_ptr<const Vocabulary> assemble(const Encoder& encoder, const std::vector<MergeLine>& merge_lines,
                                                    const std::string& vocab_path, const std::string& merges_path);

  int32_t rank_of(int32_t left, int32_t right) const {
    const auto it = merges.find(pair_key(left, right));
    return it == merges.end() ? kNoMerge : it->second.rank;
  }

  // Adds the (left, right) keys of the merges it makes to `applied`, when given.
  std::vector<int32_t> bpe(std::string_view word, std::set<uint64_t>* applied = nullptr) const;
  void append_bpe(const std::string& word, std::vector<int64_t>& ids) const;
};

std::shared_ptr<const Tokenizer::Vocabulary> Tokenizer::Vocabulary::assemble(const Encoder& encoder,
                                                                             const std::vector<MergeLine>& merge_lines,
                                                                             const std::string& vocab_path,
                                                                             const std::string& merges_path) {
  auto vocab = std::make_shared<Vocabulary>();
  auto id_of = [&](const std::string& token, const std::string& path, const std::string& where) {
    const auto it = encoder.find(token);
    if (it == encoder.end()) throw FileError(path, where + "the vocabulary has no token \"" + token + "\"");
    return it->second;
  };

  const auto chars = byte_characters();
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    append_utf8(symbol, chars[b]);
    vocab->byte_ids[b] = id_of(symbol, vocab_path, "");
    vocab->final_byte_ids[b] = id_of(symbol + std::string(kEndOfWord), vocab_path, "");
  }
  for (size_t rank = 0; rank < merge_lines.size(); ++rank) {
    const MergeLine& m = merge_lines[rank];
    const std::string where = "line " + std::to_string(m.line) + ": ";
    const int32_t left = id_of(m.left, merges_path, where);
    const int32_t right = id_of(m.right, merges_path, where);
    const int32_t result = id_of(m.left + m.right, merges_path, where);
    // A repeated pair keeps its last rank, as the reference's dict(zip(merges, ranks)) does.
    vocab->merges[pair_key(left, right)] = {static_cast<int32_t>(rank), result};
  }
  vocab->sot = id_of(std::string(kStartOfText), vocab_path, "");
  vocab->eot = id_of(std::string(kEndOfText), vocab_path, "");
  int32_t largest = 0;
  for (const auto& entry : encoder) largest = std::max(largest, entry.second);
  vocab->size = int64_t(largest) + 1;
  vocab->tokens.resize(static_cast<size_t>(vocab->size));
  for (const auto& [token, id] : encoder) vocab->tokens[static_cast<size_t>(id)] = token;
  return vocab;
}

// The reference's bpe(): repeatedly merges every occurrence (left to right) of the adjacent pair
// with the lowest rank. ranks[i] caches the rank of (symbols[i], symbols[i+1]) so that only pairs
// next to a merge are looked up again.
std::vector<int32_t> Tokenizer::Vocabulary::bpe(std::string_view word, std::set<uint64_t>* applied) const {
  std::vector<int32_t> symbols(word.size());
  for (size_t i = 0; i < word.size(); ++i)
    symbols[i] = (i + 1 < word.size() ? byte_ids : final_byte_ids)[static_cast<uint8_t>(word[i])];
  std::vector<int32_t> ranks(symbols.size() - 1);
  for (size_t i = 0; i + 1 < symbols.size(); ++i) ranks[i] = rank_of(symbols[i], symbols[i + 1]);

  while (!ranks.empty()) {
    const auto best = std::min_element(ranks.begin(), ranks.end());
    if (*best == kNoMerge) break;
    const size_t at = static_cast<size_t>(best - ranks.begin());
    const int32_t left = symbols[at], right = symbols[at + 1];
    const int32_t merged = merges.at(pair_key(left, right)).result;
    if (applied) applied->insert(pair_key(left, right));

    size_t out = 0;
    bool previous_merged = false;
    for (size_t i = 0; i < symbols.size();) {
      const bool merge = i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right;
      const int32_t symbol = merge ? merged : symbols[i];
      // out <= i, so ranks[i - 1] is still the old pair (symbols[i - 1], symbols[i]) when unchanged.
      if (out > 0) ranks[out - 1] = merge || previous_merged ? rank_of(symbols[out - 1], symbol) : ranks[i - 1];
      symbols[out++] = symbol;
      previous_merged = merge;
      i += merge ? 2 : 1;
    }
    symbols.resize(out);
    ranks.resize(out - 1);
  }
  return symbols;
}

void Tokenizer::Vocabulary::append_bpe(const std::string& word, std::vector<int64_t>& ids) const {
  // Copied out under the lock: another thread may clear a full cache at any time.
  {
    std::shared_lock lock(cache_mutex);
    if (const auto it = cache.find(word); it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols = bpe(word);
  ids.insert(ids.end(), symbols.begin(), symbols.end());
  std::unique_lock lock(cache_mutex);
  if (cache.size() >= kCacheLimit) cache.clear();
  cache.try_emplace(word, std::move(symbols));
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

Tokenizer::Tokenizer(std::shared_ptr<const Vocabulary> vocab) : vocab_(std::move(vocab)) {}

Tokenizer Tokenizer::from_openai_bpe(const std::string& bpe_gz_path) {
  const std::string content = read_gzip(bpe_gz_path);
  const std::vector<std::string_view> lines = split_lines(content);
  // Line 1 is a header; the file goes on past the merges CLIP uses.
  const size_t available = lines.size() > 1 ? std::min(lines.size() - 1, kClipMerges) : 0;
  if (available < kClipMerges)
    throw FileError(bpe_gz_path, "holds " + std::to_string(available) + " merges; CLIP's vocabulary needs " +
                                     std::to_string(kClipMerges));

  // The vocabulary is the reference's list: bytes (in bytes_to_unicode's order, which is increasing
  // code point), word-final bytes, one token per merge, specials. Later duplicates win, as in its
  // dict(zip(vocab, range(len(vocab)))).
  Vocabulary::Encoder encoder;
  int32_t next_id = 0;
  auto chars = byte_characters();
  std::sort(chars.begin(), chars.end());
  for (const std::string_view suffix : {std::string_view(), kEndOfWord}) {
    for (const char32_t c : chars) {
      std::string token;
      append_utf8(token, c);
      encoder[token.append(suffix)] = next_id++;
    }
  }
  std::vector<MergeLine> merges;
  merges.reserve(kClipMerges);
  for (size_t k = 1; k <= kClipMerges; ++k) {
    MergeLine merge = parse_merge(lines[k], k + 1, bpe_gz_path);
    // Each merge joins tokens made earlier; anything else means this is not a BPE merges file.
    for (const std::string* part : {&merge.left, &merge.right})
      if (!encoder.count(*part))
        throw FileError(bpe_gz_path, "line " + std::to_string(k + 1) + ": \"" + *part +
                                         "\" is neither a byte nor the result of an earlier merge");
    encoder[merge.left + merge.right] = next_id++;
    merges.push_back(std::move(merge));
  }
  encoder[std::string(kStartOfText)] = next_id++;
  encoder[std::string(kEndOfText)] = next_id++;
  return Tokenizer(Vocabulary::assemble(encoder, merges, bpe_gz_path, bpe_gz_path));
}

Tokenizer Tokenizer::from_hf_files(const std::string& vocab_json_path, const std::string& merges_txt_path) {
  return from_hf_text(read_file(vocab_json_path), read_file(merges_txt_path), vocab_json_path, merges_txt_path);
}

Tokenizer Tokenizer::from_hf_text(const std::string& vocab_json, const std::string& merges_txt,
                                  const std::string& vocab_source, const std::string& merges_source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(vocab_json);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(vocab_source, std::string("not valid JSON: ") + e.what());
  }
  if (!json.is_object()) throw FileError(vocab_source, "expected a JSON object mapping tokens to ids");
  Vocabulary::Encoder encoder;
  encoder.reserve(json.size());
  for (const auto& [token, id] : json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max())
      throw FileError(vocab_source, "token \"" + token + "\" has id " + id.dump() + ", not a non-negative integer");
    encoder.emplace(token, id.get<int32_t>());
  }

  const std::vector<std::string_view> lines = split_lines(merges_txt);
  std::vector<MergeLine> merges;
  merges.reserve(lines.size());
  for (size_t k = 0; k < lines.size(); ++k) {
    const bool header = k == 0 && lines[k].substr(0, 8) == "#version";
    const bool blank = lines[k].find_first_not_of(" \t\r\v\f") == std::string_view::npos;
    if (!header && !blank) merges.push_back(parse_merge(lines[k], k + 1, merges_source));
  }
  if (merges.empty()) throw FileError(merges_source, "holds no merges");
  return Tokenizer(Vocabulary::assemble(encoder, merges, vocab_source, merges_source));
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 2);
  for (const std::string& piece : cleaned_pieces(text)) {
    // Only the exact special strings, which the reference pre-seeds its cache with, map to their ids.
    if (piece == kStartOfText)
      ids.push_back(vocab_->sot);
    else if (piece == kEndOfText)
      ids.push_back(vocab_->eot);
    else
      vocab_->append_bpe(piece, ids);
  }
  return ids;
}

Tokenizer::Subset Tokenizer::subset_for(const std::vector<std::string>& texts) const {
  std::set<uint64_t> applied;
  for (const auto& text : texts)
    for (const std::string& piece : cleaned_pieces(text))
      if (piece != kStartOfText && piece != kEndOfText) vocab_->bpe(piece, &applied);

  std::set<int64_t> kept(vocab_->byte_ids.begin(), vocab_->byte_ids.end());
  kept.insert(vocab_->final_byte_ids.begin(), vocab_->final_byte_ids.end());
  kept.insert({vocab_->sot, vocab_->eot});
  std::vector<std::pair<int32_t, uint64_t>> merges_by_rank;
  for (const uint64_t pair : applied) {
    const auto& merge = vocab_->merges.at(pair);
    kept.insert(merge.result);
    merges_by_rank.emplace_back(merge.rank, pair);
  }
  std::sort(merges_by_rank.begin(), merges_by_rank.end());

  Subset subset;
  subset.kept_ids.assign(kept.begin(), kept.end());
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t id = 0; id < subset.kept_ids.size(); ++id)
    vocab[vocab_->tokens.at(static_cast<size_t>(subset.kept_ids[id]))] = id;
  subset.vocab_json = vocab.dump();
  subset.merges_txt = "#version: 0.2\n";
  for (const auto& [rank, pair] : merges_by_rank)
    subset.merges_txt += vocab_->tokens.at(pair >> 32) + " " + vocab_->tokens.at(pair & 0xFFFFFFFFu) + "\n";
  return subset;
}

std::vector<int64_t> Tokenizer::tokenize(const std::string& text, int context_length, bool truncate) const {
  if (context_length < 2)
    throw Error("tokenize: context_length " + std::to_string(context_length) + " leaves no room for SOT and EOT");
  const std::vector<int64_t> ids = encode(text);
  const size_t limit = static_cast<size_t>(context_length);
  if (ids.size() + 2 > limit && !truncate) {
    // Long enough to recognise the text, cut at a character boundary.
    size_t shown = std::min<size_t>(text.size(), 100);
    while (shown < text.size() && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) --shown;
    throw Error("tokenize: text is " + std::to_string(ids.size() + 2) +
                " tokens with SOT and EOT, more than the context length " + std::to_string(limit) +
                " (pass truncate=true to cut it): \"" + text.substr(0, shown) + (shown < text.size() ? "...\"" : "\""));
  }
  std::vector<int64_t> tokens(limit, 0);
  const size_t kept = std::min(ids.size(), limit - 2);
  tokens[0] = vocab_->sot;
  std::copy_n(ids.begin(), kept, tokens.begin() + 1);
  tokens[kept + 1] = vocab_->eot;
  return tokens;
}

int64_t Tokenizer::sot_token() const { return vocab_->sot; }
int64_t Tokenizer::eot_token() const { return vocab_->eot; }
int64_t Tokenizer::vocab_size() const { return vocab_->size; }

}  // namespace actionclip
