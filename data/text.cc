#include "data/text.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/file_io.h"
#include "graph/random.h"
#include "graph/status_macros.h"

namespace dlf::data {
namespace {

constexpr int64_t kMaxTextBytes = int64_t{1} << 30;
constexpr std::string_view kCharRecord = "char:";

// The length of the UTF-8 sequence a lead byte starts and the bits it carries; 0 for a byte
// that cannot lead one.
int SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 0;
}

// Decodes the sequence at text[i] (length `length`); 0x110000 when it is ill-formed.
uint32_t DecodeSequence(std::string_view text, size_t i, int length) {
  constexpr uint32_t kBad = 0x110000;
  static constexpr uint32_t kLeadMask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // below: overlong
  if (i + length > text.size()) return kBad;
  uint32_t c = static_cast<uint8_t>(text[i]) & kLeadMask[length];
  for (int k = 1; k < length; ++k) {
    const uint8_t b = static_cast<uint8_t>(text[i + k]);
    if ((b & 0xc0) != 0x80) return kBad;
    c = (c << 6) | (b & 0x3f);
  }
  if (c < kSmallest[length] || (c >= 0xd800 && c <= 0xdfff)) return kBad;
  return c;  // > 0x10ffff stays bad
}

std::string Describe(uint32_t code_point) {
  const std::string shown = code_point < 0x20 || code_point == 0x7f ? "" : absl::StrCat("'", EncodeUtf8(code_point), "' ");
  return absl::StrCat(shown, absl::StrFormat("U+%04X", code_point));
}

absl::Status ExpectWindow(const std::vector<int32_t>& split, const char* which, int64_t block_size,
                          const std::string& path) {
  if (static_cast<int64_t>(split.size()) >= block_size + 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(path, ": its ", which, " has ", split.size(),
                                                 " tokens, fewer than block_size + 1 = ", block_size + 1,
                                                 ": give a longer text or a smaller --block_size"));
}

}  // namespace

absl::StatusOr<Tokenizer> ParseTokenizer(std::string_view name) {
  if (name == "char") return Tokenizer::kCharacter;
  if (name == "byte") return Tokenizer::kByte;
  return absl::InvalidArgumentError(absl::StrCat("--tokenizer: expected char or byte, found '", std::string(name), "'"));
}

absl::StatusOr<std::vector<uint32_t>> DecodeUtf8(std::string_view text, const std::string& name) {
  std::vector<uint32_t> code_points;
  code_points.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const int length = SequenceLength(static_cast<uint8_t>(text[i]));
    const uint32_t c = length == 0 ? 0x110000 : DecodeSequence(text, i, length);
    if (c > 0x10ffff) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: not UTF-8 text: byte 0x%02x at offset %d does not begin "
                                                        "a valid character",
                                                        name, static_cast<uint8_t>(text[i]), i));
    }
    code_points.push_back(c);
    i += length;
  }
  return code_points;
}

std::string EncodeUtf8(uint32_t c) {
  if (c < 0x80) return std::string(1, static_cast<char>(c));
  if (c < 0x800) return {static_cast<char>(0xc0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3f))};
  if (c < 0x10000) {
    return {static_cast<char>(0xe0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3f)),
            static_cast<char>(0x80 | (c & 0x3f))};
  }
  return {static_cast<char>(0xf0 | (c >> 18)), static_cast<char>(0x80 | ((c >> 12) & 0x3f)),
          static_cast<char>(0x80 | ((c >> 6) & 0x3f)), static_cast<char>(0x80 | (c & 0x3f))};
}

Vocabulary Vocabulary::Bytes() { return Vocabulary(); }

Vocabulary Vocabulary::CharactersOf(const std::vector<uint32_t>& code_points) {
  Vocabulary v;
  v.tokenizer_ = Tokenizer::kCharacter;
  v.characters_ = code_points;
  std::sort(v.characters_.begin(), v.characters_.end());
  v.characters_.erase(std::unique(v.characters_.begin(), v.characters_.end()), v.characters_.end());
  for (size_t id = 0; id < v.characters_.size(); ++id) v.ids_[v.characters_[id]] = static_cast<int32_t>(id);
  return v;
}

absl::StatusOr<Vocabulary> Vocabulary::FromRecord(std::string_view record) {
  if (record == "byte") return Bytes();
  if (record.substr(0, kCharRecord.size()) != kCharRecord) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary record: expected \"byte\" or \"char:<characters>\", found '", std::string(record.substr(0, 20)), "'"));
  }
  DLF_ASSIGN_OR_RETURN(const std::vector<uint32_t> characters,
                       DecodeUtf8(record.substr(kCharRecord.size()), "vocabulary record"));
  Vocabulary v = CharactersOf(characters);
  if (v.characters_ != characters || characters.empty()) {
    return absl::InvalidArgumentError("vocabulary record: the characters are not distinct and ascending");
  }
  return v;
}

std::string Vocabulary::Record() const {
  if (tokenizer_ == Tokenizer::kByte) return "byte";
  std::string record(kCharRecord);
  for (uint32_t c : characters_) record += EncodeUtf8(c);
  return record;
}

absl::StatusOr<std::vector<int32_t>> Vocabulary::EncodeCodePoints(const std::vector<uint32_t>& code_points,
                                                                  const std::string& name) const {
  std::vector<int32_t> ids;
  ids.reserve(code_points.size());
  std::vector<uint32_t> missing;
  for (uint32_t c : code_points) {
    const auto it = ids_.find(c);
    if (it != ids_.end()) {
      ids.push_back(it->second);
    } else if (std::find(missing.begin(), missing.end(), c) == missing.end()) {
      missing.push_back(c);
    }
  }
  if (missing.empty()) return ids;
  std::vector<std::string> shown;
  for (size_t i = 0; i < std::min<size_t>(missing.size(), 10); ++i) shown.push_back(Describe(missing[i]));
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", missing.size(), " character(s) not in the vocabulary of ",
                                                 size(), ": ", absl::StrJoin(shown, ", "),
                                                 missing.size() > 10 ? ", ..." : ""));
}

absl::StatusOr<std::vector<int32_t>> Vocabulary::Encode(std::string_view text, const std::string& name) const {
  if (tokenizer_ == Tokenizer::kByte) {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<uint8_t>(text[i]);
    return ids;
  }
  DLF_ASSIGN_OR_RETURN(const std::vector<uint32_t> code_points, DecodeUtf8(text, name));
  return EncodeCodePoints(code_points, name);
}

std::string Vocabulary::Decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (int32_t id : ids) {
    text += tokenizer_ == Tokenizer::kByte ? std::string(1, static_cast<char>(id)) : EncodeUtf8(characters_[id]);
  }
  return text;
}

namespace {

// The file's text and its vocabulary: `fixed` when given (a checkpoint's), else the tokenizer's.
absl::StatusOr<TextData> LoadTextWith(const std::string& path, Tokenizer tokenizer, const Vocabulary* fixed,
                                      int64_t block_size) {
  DLF_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, kMaxTextBytes));
  if (IsGzip(bytes)) {
    DLF_ASSIGN_OR_RETURN(bytes, Gunzip(bytes, path, kMaxTextBytes));
  }
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty, expected UTF-8 text"));
  // Both tokenizers take UTF-8 text only: a binary file is a mistake, not a corpus.
  DLF_ASSIGN_OR_RETURN(const std::vector<uint32_t> code_points, DecodeUtf8(bytes, path));
  TextData data;
  data.path = path;
  if (fixed != nullptr) {
    data.vocabulary = *fixed;
  } else {
    data.vocabulary = tokenizer == Tokenizer::kByte ? Vocabulary::Bytes() : Vocabulary::CharactersOf(code_points);
  }
  const bool bytes_vocabulary = data.vocabulary.tokenizer() == Tokenizer::kByte;
  std::vector<int32_t> tokens;
  if (bytes_vocabulary) {
    DLF_ASSIGN_OR_RETURN(tokens, data.vocabulary.Encode(bytes, path));
  } else {
    DLF_ASSIGN_OR_RETURN(tokens, data.vocabulary.EncodeCodePoints(code_points, path));
  }
  const size_t split = static_cast<size_t>(static_cast<double>(tokens.size()) * 0.9);  // Python's int(n * 0.9)
  data.train.assign(tokens.begin(), tokens.begin() + split);
  data.validation.assign(tokens.begin() + split, tokens.end());
  DLF_RETURN_IF_ERROR(ExpectWindow(data.train, "training split (the first 90%)", block_size, path));
  DLF_RETURN_IF_ERROR(ExpectWindow(data.validation, "validation split (the last 10%)", block_size, path));
  const std::string base = path.substr(path.find_last_of('/') + 1);
  data.description = absl::StrCat(base, " (", code_points.size(), " characters, ", tokens.size(), " ",
                                  bytes_vocabulary ? "byte" : "character", " tokens, vocabulary ",
                                  data.vocabulary.size(), ")");
  return data;
}

}  // namespace

absl::StatusOr<TextData> LoadText(const std::string& path, Tokenizer tokenizer, int64_t block_size) {
  return LoadTextWith(path, tokenizer, nullptr, block_size);
}

absl::StatusOr<TextData> LoadTextIn(const std::string& path, const Vocabulary& vocabulary, int64_t block_size) {
  return LoadTextWith(path, vocabulary.tokenizer(), &vocabulary, block_size);
}

absl::Status ExpectVocabularyFits(const Vocabulary& vocabulary, int64_t model_vocabulary, const std::string& path) {
  if (vocabulary.size() <= model_vocabulary) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(path, ": its vocabulary has ", vocabulary.size(),
                                                 " tokens, more than the model's ", model_vocabulary));
}

int64_t WindowStart(int64_t tokens, int64_t block_size, uint64_t seed, int64_t step, int64_t sample) {
  const uint64_t stream = SplitMix64(SplitMix64(seed) ^ static_cast<uint64_t>(step));
  const uint64_t draw = SplitMix64(stream ^ static_cast<uint64_t>(sample));
  return static_cast<int64_t>(draw % static_cast<uint64_t>(tokens - block_size));
}

uint64_t ValidationSeed(uint64_t seed) { return SplitMix64(seed ^ 0x76616c6964ull); }  // "valid"

namespace {

void CopyWindow(const int32_t* window, int64_t block_size, int32_t* inputs, int32_t* targets) {
  std::copy(window, window + block_size, inputs);
  std::copy(window + 1, window + 1 + block_size, targets);
}

}  // namespace

void FillWindows(const std::vector<int32_t>& tokens, int64_t block_size, uint64_t seed, int64_t step,
                 int64_t first_sample, int64_t count, int32_t* inputs, int32_t* targets) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  for (int64_t s = 0; s < count; ++s) {
    CopyWindow(tokens.data() + WindowStart(n, block_size, seed, step, first_sample + s), block_size,
               inputs + s * block_size, targets + s * block_size);
  }
}

int64_t SplitWindows(const std::vector<int32_t>& tokens, int64_t block_size) {
  return (static_cast<int64_t>(tokens.size()) - 1) / block_size;
}

void FillSplitWindows(const std::vector<int32_t>& tokens, int64_t block_size, int64_t first_window, int64_t count,
                      int32_t* inputs, int32_t* targets) {
  for (int64_t w = 0; w < count; ++w) {
    CopyWindow(tokens.data() + (first_window + w) * block_size, block_size, inputs + w * block_size,
               targets + w * block_size);
  }
}

}  // namespace dlf::data
