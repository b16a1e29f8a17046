// Text data for language models: UTF-8 decoding, the character and byte vocabularies, the
// 90/10 split, the windows' determinism, and every bad-input error.
#include "data/text.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace dlf::data {
namespace {

using ::testing::HasSubstr;
using ::dlf::testing::TempDir;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

std::string WriteText(const std::string& dir, const std::string& name, const std::string& content) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(Utf8Test, DecodesAndReencodesEveryLength) {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // a é € 😀
  const auto decoded = DecodeUtf8(text, "t");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, (std::vector<uint32_t>{0x61, 0xe9, 0x20ac, 0x1f600}));
  std::string again;
  for (uint32_t c : *decoded) again += EncodeUtf8(c);
  EXPECT_EQ(again, text);
}

TEST(Utf8Test, IllFormedSequencesNameTheirOffset) {
  const std::pair<std::string, std::string> cases[] = {
      {"ab\xff", "byte 0xff at offset 2"},           // never a lead byte
      {"abc\x80", "byte 0x80 at offset 3"},          // a lone continuation byte
      {"a\xc3(", "byte 0xc3 at offset 1"},           // a lead without its continuation
      {"xy\xe2\x82", "byte 0xe2 at offset 2"},       // cut off at the end
      {"\xc0\xaf", "byte 0xc0 at offset 0"},         // overlong '/'
      {"z\xed\xa0\x80", "byte 0xed at offset 1"},    // a surrogate, U+D800
      {"\xf4\x90\x80\x80", "byte 0xf4 at offset 0"}, // beyond U+10FFFF
  };
  for (const auto& [text, expected] : cases) {
    const auto decoded = DecodeUtf8(text, "f.txt");
    ASSERT_FALSE(decoded.ok()) << expected;
    EXPECT_THAT(Message(decoded.status()), HasSubstr("f.txt: not UTF-8 text: " + expected));
  }
}

// nanoGPT's shakespeare_char: chars = sorted(list(set(data))), stoi by that order, n = len(data),
// train = data[:int(n * 0.9)]. For "hello world!" x 5 (60 characters): 9 characters
// " !dehlorw", 54 training and 6 validation tokens.
TEST(TextTest, CharacterVocabularyAndSplitAreNanoGptsRule) {
  const std::string dir = TempDir("text");
  std::string content;
  for (int i = 0; i < 5; ++i) content += "hello world!";
  const auto data = LoadText(WriteText(dir, "hello.txt", content), Tokenizer::kCharacter, 4);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->vocabulary.size(), 9);
  EXPECT_EQ(data->vocabulary.Record(), "char: !dehlorw");
  ASSERT_EQ(data->train.size(), 54u);
  ASSERT_EQ(data->validation.size(), 6u);
  // Ids in sorted order: ' ' 0, '!' 1, d 2, e 3, h 4, l 5, o 6, r 7, w 8; "hello " is 4 3 5 5 6 0.
  EXPECT_EQ(std::vector<int32_t>(data->train.begin(), data->train.begin() + 6),
            (std::vector<int32_t>{4, 3, 5, 5, 6, 0}));
  EXPECT_EQ(data->vocabulary.Decode(data->validation), "world!");
  EXPECT_THAT(data->description, HasSubstr("hello.txt (60 characters, 60 character tokens, vocabulary 9)"));
}

// The default text tools/setup.sh installs (Debian's jargon-text). Python's count of the same
// file: len(text) 1618757, len(set(text)) 155, int(0.9 * len) 1456881.
TEST(TextTest, TheDefaultTextIsTheJargonFile) {
  const auto data = LoadText("/usr/share/doc/jargon-text/jargon.txt.gz", Tokenizer::kCharacter, 256);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->vocabulary.size(), 155);
  EXPECT_EQ(data->train.size(), 1456881u);
  EXPECT_EQ(data->train.size() + data->validation.size(), 1618757u);
}

TEST(TextTest, MultibyteCharactersAreOneTokenAndBytesAreOneEach) {
  const std::string dir = TempDir("text");
  const std::string content = "caf\xc3\xa9 na\xc3\xafve caf\xc3\xa9 na\xc3\xafve caf\xc3\xa9!";  // 27 characters
  const std::string path = WriteText(dir, "fr.txt", content);
  const auto chars = LoadText(path, Tokenizer::kCharacter, 2);
  ASSERT_TRUE(chars.ok()) << chars.status();
  EXPECT_EQ(chars->train.size() + chars->validation.size(), 27u);
  EXPECT_EQ(chars->vocabulary.size(), 10);  // ' ' ! a c e f n v é ï
  std::vector<int32_t> all = chars->train;
  all.insert(all.end(), chars->validation.begin(), chars->validation.end());
  EXPECT_EQ(chars->vocabulary.Decode(all), content);
  const auto bytes = LoadText(path, Tokenizer::kByte, 2);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->vocabulary.size(), 256);
  EXPECT_EQ(bytes->train.size() + bytes->validation.size(), content.size());
  EXPECT_EQ(bytes->train[3], 0xc3);
}

TEST(TextTest, GzipCompressedFilesAreRead) {
  const std::string dir = TempDir("text");
  const std::string path = dir + "/t.txt.gz";
  gzFile f = gzopen(path.c_str(), "wb");
  const std::string content = "abcdefghijklmnopqrstuvwxyz";
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  const auto data = LoadText(path, Tokenizer::kCharacter, 2);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->vocabulary.size(), 26);
  EXPECT_EQ(data->train.size(), 23u);
}

TEST(TextTest, VocabularyRecordRoundTripsAndEncodeNamesMissingCharacters) {
  const Vocabulary v = Vocabulary::CharactersOf({'b', 0xe9, 'a', 'b', '\n'});
  EXPECT_EQ(v.size(), 4);
  const auto back = Vocabulary::FromRecord(v.Record());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Record(), v.Record());
  const auto ids = back->Encode("ab\xc3\xa9\n", "prompt");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<int32_t>{1, 2, 3, 0}));
  const auto bad = v.Encode("abzq\tz", "--prompt");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Message(bad.status()),
              HasSubstr("--prompt: 3 character(s) not in the vocabulary of 4: 'z' U+007A, 'q' U+0071, U+0009"));
  EXPECT_FALSE(Vocabulary::FromRecord("words:abc").ok());
  EXPECT_FALSE(Vocabulary::FromRecord("char:ba").ok());  // not ascending
  EXPECT_EQ(Vocabulary::FromRecord("byte")->size(), 256);
}

TEST(TextTest, BadFilesGetOneErrorNamingTheFile) {
  const std::string dir = TempDir("text");
  auto error = [](const std::string& path, int64_t block_size = 8) {
    return Message(LoadText(path, Tokenizer::kCharacter, block_size).status());
  };
  EXPECT_THAT(error(dir + "/missing.txt"), HasSubstr("missing.txt: no such file"));
  EXPECT_THAT(error(dir), HasSubstr(dir + ": is a directory, expected a file"));
  EXPECT_THAT(error(WriteText(dir, "empty.txt", "")), HasSubstr("empty.txt: empty, expected UTF-8 text"));
  EXPECT_THAT(error(WriteText(dir, "latin1.txt", "caf\xe9 au lait")),
              HasSubstr("latin1.txt: not UTF-8 text: byte 0xe9 at offset 3"));
  // 100 characters: 90 for training, 10 for validation; block_size 9 needs 10 in each.
  const std::string hundred = WriteText(dir, "hundred.txt", std::string(100, 'x'));
  EXPECT_TRUE(LoadText(hundred, Tokenizer::kCharacter, 9).ok());
  EXPECT_THAT(error(hundred, 10),
              HasSubstr("hundred.txt: its validation split (the last 10%) has 10 tokens, fewer than block_size + 1 = 11"));
  EXPECT_THAT(error(hundred, 95), HasSubstr("its training split (the first 90%) has 90 tokens"));
  EXPECT_THAT(Message(ExpectVocabularyFits(Vocabulary::Bytes(), 65, "a.txt")),
              HasSubstr("a.txt: its vocabulary has 256 tokens, more than the model's 65"));
  EXPECT_TRUE(ExpectVocabularyFits(Vocabulary::Bytes(), 256, "a.txt").ok());
  EXPECT_THAT(Message(ParseTokenizer("bpe").status()), HasSubstr("expected char or byte, found 'bpe'"));
}

// Windows depend on (seed, step, sample) only: drawing samples 0..7 at once or as two ranks'
// halves gives the same windows; another step or seed others; targets are inputs shifted by one.
TEST(TextTest, WindowsDependOnSeedStepAndSampleOnly) {
  std::vector<int32_t> tokens(1000);
  for (int i = 0; i < 1000; ++i) tokens[i] = i;
  const int64_t block = 16;
  std::vector<int32_t> x(8 * block), y(8 * block), x2(8 * block), y2(8 * block);
  FillWindows(tokens, block, 7, 3, 0, 8, x.data(), y.data());
  FillWindows(tokens, block, 7, 3, 0, 4, x2.data(), y2.data());
  FillWindows(tokens, block, 7, 3, 4, 4, x2.data() + 4 * block, y2.data() + 4 * block);
  EXPECT_EQ(x, x2);
  EXPECT_EQ(y, y2);
  std::set<int32_t> starts;
  for (int s = 0; s < 8; ++s) {
    starts.insert(x[s * block]);
    for (int j = 0; j < block; ++j) {
      EXPECT_EQ(x[s * block + j], x[s * block] + j);
      EXPECT_EQ(y[s * block + j], x[s * block + j] + 1);
    }
  }
  EXPECT_GT(starts.size(), 6u);
  FillWindows(tokens, block, 7, 4, 0, 8, x2.data(), y2.data());
  EXPECT_NE(x, x2);
  FillWindows(tokens, block, 8, 3, 0, 8, x2.data(), y2.data());
  EXPECT_NE(x, x2);
  // Every start in [0, n - block): the last window's target ends at the last token.
  int64_t lowest = 1000, highest = 0;
  for (int64_t s = 0; s < 20000; ++s) {
    const int64_t start = WindowStart(40, block, 1, 0, s);
    lowest = std::min(lowest, start);
    highest = std::max(highest, start);
  }
  EXPECT_EQ(lowest, 0);
  EXPECT_EQ(highest, 40 - block - 1);
  EXPECT_NE(ValidationSeed(7), 7u);
}

}  // namespace
}  // namespace dlf::data
