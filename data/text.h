#ifndef DLF_DATA_TEXT_H_
#define DLF_DATA_TEXT_H_

// A text file as a language model's data, as nanoGPT's shakespeare_char prepares it: a
// vocabulary of the file's characters (or of the 256 byte values), the tokens of its first 90%
// for training and of the rest for validation, and windows of block_size + 1 tokens drawn from
// (seed, step, sample) alone, so that threads, ranks and a resumed run see the same windows.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dlf::data {

enum class Tokenizer {
  kCharacter,  // one token per Unicode character of the file, ids in code-point order
  kByte,       // one token per byte: 256 ids, any UTF-8 text
};

// "char" or "byte" (--tokenizer); anything else is an error naming both.
absl::StatusOr<Tokenizer> ParseTokenizer(std::string_view name);

// The Unicode code points of UTF-8 text; the first ill-formed sequence (bad lead or
// continuation byte, overlong form, surrogate, beyond U+10FFFF, cut off at the end) is an
// error naming `name` and its byte offset.
absl::StatusOr<std::vector<uint32_t>> DecodeUtf8(std::string_view text, const std::string& name);
std::string EncodeUtf8(uint32_t code_point);

// The checkpoint metadata key of a language model's Vocabulary::Record().
inline constexpr char kVocabularyMetadata[] = "text/vocabulary";

class Vocabulary {
 public:
  static Vocabulary Bytes();
  // The sorted set of `code_points` (Python's sorted(set(text))).
  static Vocabulary CharactersOf(const std::vector<uint32_t>& code_points);
  // What Record() wrote ("byte", or "char:" and the characters in id order, UTF-8).
  static absl::StatusOr<Vocabulary> FromRecord(std::string_view record);

  std::string Record() const;
  Tokenizer tokenizer() const { return tokenizer_; }
  int64_t size() const { return tokenizer_ == Tokenizer::kByte ? 256 : static_cast<int64_t>(characters_.size()); }

  // The ids of `text`; characters the vocabulary lacks are an error naming each (once, up to
  // ten) and `name`.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text, const std::string& name) const;
  // Ids of a character vocabulary for decoded text (the same errors).
  absl::StatusOr<std::vector<int32_t>> EncodeCodePoints(const std::vector<uint32_t>& code_points,
                                                        const std::string& name) const;
  // The text of `ids` (each in [0, size())). Bytes are written as they are: a byte vocabulary's
  // samples may cut a character in two.
  std::string Decode(const std::vector<int32_t>& ids) const;

 private:
  Tokenizer tokenizer_ = Tokenizer::kByte;
  std::vector<uint32_t> characters_;                 // kCharacter: by id, ascending
  absl::flat_hash_map<uint32_t, int32_t> ids_;       // kCharacter: code point -> id
};

struct TextData {
  Vocabulary vocabulary;
  std::vector<int32_t> train;       // the first 90% of the file's tokens
  std::vector<int32_t> validation;  // the last 10%
  std::string description;          // e.g. "jargon.txt.gz (1618757 characters, vocabulary 155)"
  std::string path;                 // the file it was read from
};

// The checkpoint metadata key of the text file a language model trained on (what evaluate
// scores by default).
inline constexpr char kTextFileMetadata[] = "text/file";

// Reads `path` (UTF-8 text, gzip-compressed when it starts with gzip's magic bytes) and splits
// it 90/10 as nanoGPT does (on tokens). Errors, each naming the file: missing, a directory,
// empty, not UTF-8 (with the byte offset), larger than 1 GiB, or a split with fewer than
// block_size + 1 tokens.
absl::StatusOr<TextData> LoadText(const std::string& path, Tokenizer tokenizer, int64_t block_size);
// The same with a given vocabulary (a checkpoint's): a character it lacks is an error naming it.
absl::StatusOr<TextData> LoadTextIn(const std::string& path, const Vocabulary& vocabulary, int64_t block_size);

// The text's vocabulary must fit the model's embedding table (rows = model_vocabulary).
absl::Status ExpectVocabularyFits(const Vocabulary& vocabulary, int64_t model_vocabulary, const std::string& path);

// Where window `sample` of batch `step` starts in a split of `tokens` tokens: uniform in
// [0, tokens - block_size) from (seed, step, sample) only (nanoGPT's torch.randint(len(data) -
// block_size)). Validation batches use their own stream (see ValidationSeed).
int64_t WindowStart(int64_t tokens, int64_t block_size, uint64_t seed, int64_t step, int64_t sample);
// The stream of the validation windows: every evaluation sees the same batches.
uint64_t ValidationSeed(uint64_t seed);

// Windows first_sample .. first_sample + count - 1 of batch `step`: inputs [count, block_size]
// (tokens i .. i + block_size - 1) and targets shifted by one (i + 1 .. i + block_size).
void FillWindows(const std::vector<int32_t>& tokens, int64_t block_size, uint64_t seed, int64_t step,
                 int64_t first_sample, int64_t count, int32_t* inputs, int32_t* targets);

// The split as consecutive windows, for scoring all of it: window w is tokens w * block_size ..
// (w + 1) * block_size, so every token after the first is a target once (the tail that fills no
// whole window is left out). SplitWindows counts them; FillSplitWindows writes windows
// first_window .. first_window + count - 1 as FillWindows does.
int64_t SplitWindows(const std::vector<int32_t>& tokens, int64_t block_size);
void FillSplitWindows(const std::vector<int32_t>& tokens, int64_t block_size, int64_t first_window, int64_t count,
                      int32_t* inputs, int32_t* targets);

}  // namespace dlf::data

#endif  // DLF_DATA_TEXT_H_
