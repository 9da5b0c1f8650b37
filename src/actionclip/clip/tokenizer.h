#pragma once
// OpenAI CLIP's byte-level BPE tokenizer (clip/simple_tokenizer.py), reproduced id for id.
//
// Text is cleaned as the reference does (ftfy.fix_text, approximated by NFC; HTML unescaped twice;
// whitespace collapsed; Unicode lowercase), split with CLIP's pre-tokenisation pattern, and each piece
// is byte-pair encoded. A Tokenizer is cheap to copy (copies share one vocabulary and one word cache)
// and safe to use from several threads at once.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actionclip {

class Tokenizer {
 public:
  // OpenAI's merges file bpe_simple_vocab_16e6.txt.gz. Throws FileError if it is missing, not gzip,
  // truncated, or does not hold CLIP's 48894 merges.
  static Tokenizer from_openai_bpe(const std::string& bpe_gz_path);
  // A Hugging Face CLIP model folder's vocab.json (token -> id) and merges.txt. Throws FileError if
  // either is unreadable or they disagree (a merge whose parts or result vocab.json lacks).
  static Tokenizer from_hf_files(const std::string& vocab_json_path, const std::string& merges_txt_path);
  // The same two files' contents, already read; errors name `vocab_source` / `merges_source`.
  static Tokenizer from_hf_text(const std::string& vocab_json, const std::string& merges_txt,
                                const std::string& vocab_source, const std::string& merges_source);

  // This vocabulary cut down to what `texts` need, in from_hf_text's form: every byte token, the
  // merges the words of `texts` go through (in rank order), the two specials, renumbered densely
  // in the original order. It encodes `texts` to the same tokens (under the new ids), and any
  // other text to tokens it keeps. kept_ids[new id] is the token's id here, for cutting an
  // embedding table to match.
  struct Subset {
    std::string vocab_json, merges_txt;
    std::vector<int64_t> kept_ids;
  };
  Subset subset_for(const std::vector<std::string>& texts) const;

  // Token ids of `text` (UTF-8), without SOT/EOT. Throws Error if `text` is not valid UTF-8.
  std::vector<int64_t> encode(const std::string& text) const;

  // SOT, encode(text), EOT, zero-padded to context_length. Text that does not fit throws Error,
  // unless `truncate`, which cuts it and keeps EOT as the last token.
  std::vector<int64_t> tokenize(const std::string& text, int context_length = 77, bool truncate = false) const;

  int64_t sot_token() const;
  int64_t eot_token() const;
  // Rows the token embedding needs: one more than the largest id.
  int64_t vocab_size() const;

 private:
  struct Vocabulary;
  explicit Tokenizer(std::shared_ptr<const Vocabulary> vocab);

  std::shared_ptr<const Vocabulary> vocab_;
};

}  // namespace actionclip
