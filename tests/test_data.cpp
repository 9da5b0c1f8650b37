// Label vocabularies and annotation readers: the real label files the reference ships, each
// annotation format on small files written here, error reporting with file and line, and the
// reproducibility of few-shot subsets.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actionclip/data/annotations.h"
#include "actionclip/data/labels.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using namespace actionclip::data;
using actionclip::FileError;

using actionclip::testing::TempDir;

fs::path labels_dir() { return actionclip::testing::shared_data_dir() / "actionclip-labels"; }

#define REQUIRE_LABEL_FILES()                                                                \
  REQUIRE_FIXTURES();                                                                        \
  if (!fs::exists(labels_dir())) GTEST_SKIP() << "label files not found at " << labels_dir()

// The FileError `read` throws; fails the test when it throws nothing.
template <typename Fn>
std::string file_error(Fn&& read) {
  try {
    read();
  } catch (const FileError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a FileError";
  return {};
}

std::vector<std::string> paths(const std::vector<VideoRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.path);
  return out;
}

// ---- labels ----------------------------------------------------------------------------------

TEST(Labels, ReadsTheReferenceLabelFiles) {
  REQUIRE_LABEL_FILES();
  const auto kinetics = read_label_file((labels_dir() / "kinetics_400_labels.csv").string());
  ASSERT_EQ(kinetics.size(), 400u);
  EXPECT_EQ(kinetics.front(), "abseiling");
  EXPECT_EQ(kinetics[208], "passing American football (in game)");
  EXPECT_EQ(kinetics.back(), "zumba");

  const auto ucf = read_label_file((labels_dir() / "ucf_labels.csv").string());  // CRLF
  ASSERT_EQ(ucf.size(), 101u);
  EXPECT_EQ(ucf.front(), "ApplyEyeMakeup");
  EXPECT_EQ(ucf.back(), "YoYo");

  const auto hmdb = read_label_file((labels_dir() / "hmdb51_labels.csv").string());  // CRLF
  ASSERT_EQ(hmdb.size(), 51u);
  EXPECT_EQ(hmdb.front(), "brush hair");
  EXPECT_EQ(hmdb.back(), "wave");

  for (const auto* names : {&kinetics, &ucf, &hmdb})
    for (const auto& name : *names) EXPECT_EQ(name.find_first_of("\r\n"), std::string::npos) << name;
}

TEST(Labels, ClassIndIsOneBasedAndPlacedById) {
  TempDir dir;
  const auto path = dir.write("classInd.txt", "2 ApplyLipstick\r\n1 ApplyEyeMakeup\r\n\r\n3   Archery  \r\n");
  EXPECT_EQ(read_label_file(path), (std::vector<std::string>{"ApplyEyeMakeup", "ApplyLipstick", "Archery"}));
}

TEST(Labels, CsvPlacesByIdAndHonoursQuotes) {
  TempDir dir;
  const auto path = dir.write("labels.csv", "\xEF\xBB\xBFid,name\n2, c \n0,\"cutting, slicing\"\n\n1,\"say \"\"hi\"\"\"\n");
  EXPECT_EQ(read_label_file(path), (std::vector<std::string>{"cutting, slicing", "say \"hi\"", "c"}));
  const auto headerless = dir.write("headerless.csv", "1,b\n0,a\n");
  EXPECT_EQ(read_label_file(headerless), (std::vector<std::string>{"a", "b"}));
}

TEST(Labels, PlainListKeepsLinesThatMerelyStartWithNumbers) {
  TempDir dir;
  const auto path = dir.write("names.txt", "  walking\r\n\n3 point shot\nrunning, fast\n");
  EXPECT_EQ(read_label_file(path), (std::vector<std::string>{"walking", "3 point shot", "running, fast"}));
}

TEST(Labels, MalformedFilesNameFileAndLine) {
  TempDir dir;
  struct Case {
    std::string content, expected;
  };
  const std::vector<Case> cases{
      {"id,name\n0,a\n\n0,b\n", "line 4: duplicate id 0 (first on line 2)"},
      {"id,name\n0,a\n2,c\n", "line 3: id 2 is out of range"},
      {"id,name\n0,a,b\n", "line 2: 3 fields, expected 2"},
      {"id,name\nzero,a\n", "line 2: id 'zero' is not an integer"},
      {"id,name\n0,\"a\n", "line 2: unterminated quote"},
      {"id,name\n0,\n", "line 2: empty name"},
      {"1 a\n1 b\n", "line 2: duplicate id 1"},
      {"0 a\n1 b\n", "line 1: id 0 is out of range"},  // classInd is 1-based
      {"\n  \n", "no labels"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto path = dir.write("bad" + std::to_string(i) + ".csv", cases[i].content);
    const std::string message = file_error([&] { read_label_file(path); });
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(cases[i].expected), std::string::npos) << message;
  }
  const std::string missing = dir.path().string() + "/absent.csv";
  EXPECT_NE(file_error([&] { read_label_file(missing); }).find(missing), std::string::npos);
}

TEST(Labels, ParsesCommaSeparatedLists) {
  EXPECT_EQ(parse_label_list(" walking, running ,,\"cutting, slicing\","),
            (std::vector<std::string>{"walking", "running", "cutting, slicing"}));
  EXPECT_TRUE(parse_label_list("").empty());
  EXPECT_THROW(parse_label_list("a,\"b"), actionclip::Error);
}

TEST(Labels, HumanizesDatasetIdentifiers) {
  EXPECT_EQ(humanize_label("ApplyEyeMakeup"), "apply eye makeup");
  EXPECT_EQ(humanize_label("YoYo"), "yo yo");
  EXPECT_EQ(humanize_label("HandstandPushups"), "handstand pushups");
  EXPECT_EQ(humanize_label("brush_hair"), "brush hair");
  EXPECT_EQ(humanize_label("TVShow"), "tv show");
  EXPECT_EQ(humanize_label("Top10Moves"), "top 10 moves");
  EXPECT_EQ(humanize_label("passing American football (in game)"), "passing american football (in game)");
  EXPECT_EQ(humanize_label("  tai   chi "), "tai chi");
}

// ---- annotations -----------------------------------------------------------------------------

TEST(Annotations, ReadsTheReferenceRawframeList) {
  REQUIRE_LABEL_FILES();
  const std::string path = (labels_dir() / "k4001" / "val_frames_re.txt").string();
  size_t lines = 0;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines += line.find_first_not_of(" \t\r") != std::string::npos;
  }
  AnnotationOptions options;
  options.check_exists = false;  // absolute paths on its authors' machine
  options.num_classes = 400;
  const auto report = read_rawframe_list(path, options);
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  ASSERT_EQ(report.records.size(), lines);
  EXPECT_EQ(lines, 19357u);
  const VideoRecord& first = report.records.front();
  EXPECT_EQ(first.path, "/public/datasets/kinetics400/data2/extracted_val_frames/ice_skating/99elfyHn6wo");
  EXPECT_EQ(first.num_frames, 360);
  EXPECT_EQ(first.labels, std::vector<int64_t>{164});
}

TEST(Annotations, RawframeListReportsAndSkipsMalformedLines) {
  TempDir dir;
  const auto list = dir.write("list.txt",
                              "clips/a 30 1\r\n"
                              "clips/b 12\n"
                              "\n"
                              "clips/c x 3\n"
                              "clips/d 0 3\n"
                              "clips/e 5 a\n"
                              "clips/f 40 2 7\n"
                              "clips/g 10 -1\n"
                              "clips/h 10 9\n");
  AnnotationOptions options;
  options.data_root = dir.path().string();
  options.check_exists = false;
  options.num_classes = 9;
  const auto report = read_rawframe_list(list, options);
  ASSERT_EQ(report.records.size(), 2u);
  EXPECT_EQ(report.records[0].path, (fs::path(dir.path().string()) / "clips/a").string());
  EXPECT_EQ(report.records[0].num_frames, 30);
  EXPECT_EQ(report.records[1].labels, (std::vector<int64_t>{2, 7}));  // multi-label
  ASSERT_EQ(report.problems.size(), 6u);
  EXPECT_EQ(report.skipped, 6u);
  const std::vector<int> lines{2, 4, 5, 6, 8, 9};
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(report.problems[i].rfind(list + ":" + std::to_string(lines[i]) + ": ", 0), 0u) << report.problems[i];
  EXPECT_NE(report.problems[4].find("negative label -1"), std::string::npos) << report.problems[4];
  EXPECT_NE(report.problems[5].find("outside 0..8"), std::string::npos) << report.problems[5];

  options.check_exists = true;
  dir.write("clips/a/img_00001.jpg", "");
  const auto checked = read_rawframe_list(list, options);
  ASSERT_EQ(checked.records.size(), 1u);  // clips/f has no frame folder
  ASSERT_EQ(checked.problems.size(), 7u);
  EXPECT_EQ(checked.problems[4], list + ":7: missing " + (fs::path(dir.path().string()) / "clips/f").string());
}

TEST(Annotations, VideoListResolvesAgainstTheRootAndDropsMissingFiles) {
  TempDir dir;
  dir.write("videos/a.mp4", "x");
  dir.write("videos/b.mp4", "x");
  const auto list = dir.write("train.txt",
                              "videos/a.mp4 0\n"
                              "videos/missing.mp4 1\n"
                              "videos/b.mp4 3 5\n"
                              "videos/c.mp4\n"
                              "videos/a.mp4 one\n");
  AnnotationOptions options;
  options.data_root = dir.path().string();
  const auto report = read_video_list(list, options);
  ASSERT_EQ(report.records.size(), 2u);
  EXPECT_EQ(report.records[0].path, (fs::path(dir.path().string()) / "videos/a.mp4").string());
  EXPECT_EQ(report.records[0].num_frames, -1);
  EXPECT_EQ(report.records[1].labels, (std::vector<int64_t>{3, 5}));
  ASSERT_EQ(report.problems.size(), 3u);
  EXPECT_EQ(report.problems[0], list + ":2: missing " + (fs::path(dir.path().string()) / "videos/missing.mp4").string());
  EXPECT_EQ(report.problems[1].rfind(list + ":4: ", 0), 0u);
  EXPECT_EQ(report.problems[2].rfind(list + ":5: ", 0), 0u);

  options.check_exists = false;
  options.data_root.clear();
  const auto unchecked = read_video_list(list, options);
  EXPECT_EQ(paths(unchecked.records), (std::vector<std::string>{"videos/a.mp4", "videos/missing.mp4", "videos/b.mp4"}));

  EXPECT_NE(file_error([&] { read_video_list(dir.path().string() + "/absent.txt"); }).find("absent.txt"), std::string::npos);
}

TEST(Annotations, KineticsCsvFindsEachCommonLayout) {
  TempDir dir;
  const fs::path root = dir.path().string();
  const std::vector<std::string> classes{"abseiling", "air drumming", "passing American football (in game)"};
  const auto a = dir.write("abseiling/aaa_000010_000020.mp4", "x");
  const auto b = dir.write("air_drumming/-bb_000000_000010.mkv", "x");
  const auto c = dir.write("ccc_000005_000015.webm", "x");
  const auto d = dir.write("passing American football (in game)/ddd_000001_000011.mp4", "x");
  const auto csv = dir.write("val.csv",
                             "label,youtube_id,time_start,time_end,split\r\n"
                             "abseiling,aaa,10,20,val\r\n"
                             "\"air drumming\",-bb,0,10,val\r\n"
                             "abseiling,ccc,5.0,15.0,val\r\n"
                             "passing American football (in game),ddd,1,11,val\r\n"
                             "abseiling,gone,0,10,val\r\n"
                             "yodelling,eee,0,10,val\r\n"
                             "abseiling,fff,soon,10,val\r\n"
                             "abseiling,ggg,0,10\r\n");
  AnnotationOptions options;
  options.data_root = dir.path().string();
  const auto report = read_kinetics_csv(csv, classes, options);
  EXPECT_EQ(paths(report.records), (std::vector<std::string>{a, b, c, d}));
  EXPECT_EQ(report.records[1].labels, std::vector<int64_t>{1});
  EXPECT_EQ(report.records[3].labels, std::vector<int64_t>{2});
  ASSERT_EQ(report.problems.size(), 4u);
  EXPECT_NE(report.problems[0].find(":6: missing " + (root / "abseiling/gone_000000_000010.mp4").string()),
            std::string::npos)
      << report.problems[0];
  EXPECT_NE(report.problems[1].find(":7: class 'yodelling' is not in the label list"), std::string::npos);
  EXPECT_NE(report.problems[2].find(":8: "), std::string::npos);
  EXPECT_NE(report.problems[3].find(":9: 4 fields, expected 5"), std::string::npos);

  options.check_exists = false;
  const auto unchecked = read_kinetics_csv(csv, classes, options);
  ASSERT_EQ(unchecked.records.size(), 5u);
  EXPECT_EQ(unchecked.records[1].path, (root / "air drumming" / "-bb_000000_000010.mp4").string());

  const auto no_label = dir.write("test.csv", "youtube_id,time_start,time_end,split\naaa,10,20,test\n");
  const std::string message = file_error([&] { read_kinetics_csv(no_label, classes, options); });
  EXPECT_NE(message.find("line 1: header has no 'label' column"), std::string::npos) << message;
}

TEST(Annotations, Ucf101SplitsUseClassIndIdsOrFolders) {
  TempDir dir;
  const auto class_ind = dir.write("classInd.txt", "1 ApplyEyeMakeup\r\n2 ApplyLipstick\r\n3 HandstandPushups\r\n");
  const auto classes = read_label_file(class_ind);
  const auto train = dir.write("trainlist01.txt",
                               "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
                               "ApplyLipstick/v_ApplyLipstick_g01_c01.avi 2\r\n"
                               "ApplyLipstick/v_ApplyLipstick_g02_c01.avi 1\r\n"
                               "v_NoFolder_g01_c01.avi 1\r\n"
                               "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi 4\r\n");
  AnnotationOptions options;
  options.data_root = "/data/UCF-101";
  options.check_exists = false;
  const auto report = read_ucf101_split(train, classes, options);
  ASSERT_EQ(report.records.size(), 2u);
  EXPECT_EQ(report.records[0].path, "/data/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi");
  EXPECT_EQ(report.records[0].labels, std::vector<int64_t>{0});
  EXPECT_EQ(report.records[1].labels, std::vector<int64_t>{1});
  ASSERT_EQ(report.problems.size(), 3u);
  EXPECT_NE(report.problems[0].find(":3: class id 1 is 'ApplyEyeMakeup' but the folder is 'ApplyLipstick'"),
            std::string::npos)
      << report.problems[0];
  EXPECT_NE(report.problems[1].find(":4: no class folder"), std::string::npos);
  EXPECT_NE(report.problems[2].find(":5: class id '4' is outside 1..3"), std::string::npos);

  // testlist files have no ids; the folder names the class, also against humanized names.
  const auto test = dir.write("testlist01.txt",
                              "HandstandPushups/v_HandStandPushups_g01_c01.avi\r\n"
                              "Juggling/v_Juggling_g01_c01.avi\r\n");
  const std::vector<std::string> words{"apply eye makeup", "apply lipstick", "handstand pushups"};
  const auto tested = read_ucf101_split(test, words, options);
  ASSERT_EQ(tested.records.size(), 1u);
  EXPECT_EQ(tested.records[0].labels, std::vector<int64_t>{2});
  ASSERT_EQ(tested.problems.size(), 1u);
  EXPECT_NE(tested.problems[0].find(":2: class folder 'Juggling' is not in the label list"), std::string::npos);
}

TEST(Annotations, Hmdb51SplitFilesSelectTheSubset) {
  TempDir dir;
  const std::vector<std::string> classes{"brush hair", "cartwheel", "wave"};
  const auto brush = dir.write("splits/brush_hair_test_split1.txt", "a.avi 1 \r\nb.avi 2 \r\nc.avi 0 \r\nd.avi 7\r\n");
  dir.write("splits/cartwheel_test_split1.txt", "e.avi 2\nf.avi 1\n");
  dir.write("splits/cartwheel_test_split2.txt", "g.avi 1\n");
  const auto unknown = dir.write("splits/juggle_test_split1.txt", "h.avi 1\n");
  AnnotationOptions options;
  options.data_root = "/data/hmdb51";
  options.check_exists = false;
  const std::string splits = dir.path().string() + "/splits";

  const auto train = read_hmdb51_split(splits, 1, HmdbSubset::kTrain, classes, options);
  EXPECT_EQ(paths(train.records),
            (std::vector<std::string>{"/data/hmdb51/brush_hair/a.avi", "/data/hmdb51/cartwheel/f.avi"}));
  EXPECT_EQ(train.records[1].labels, std::vector<int64_t>{1});
  EXPECT_EQ(train.skipped, 1u);
  ASSERT_EQ(train.problems.size(), 3u);
  EXPECT_EQ(train.problems[0], unknown + ": class 'juggle' is not in the label list");
  EXPECT_EQ(train.problems[1].rfind(brush + ":4: ", 0), 0u) << train.problems[1];
  EXPECT_EQ(train.problems[2], splits + ": no split file for class 'wave'");

  const auto test = read_hmdb51_split(splits, 1, HmdbSubset::kTest, classes, options);
  EXPECT_EQ(paths(test.records),
            (std::vector<std::string>{"/data/hmdb51/brush_hair/b.avi", "/data/hmdb51/cartwheel/e.avi"}));

  EXPECT_NE(file_error([&] { read_hmdb51_split(splits, 3, HmdbSubset::kTrain, classes, options); })
                .find("no *_test_split3.txt files"),
            std::string::npos);
  EXPECT_THROW(read_hmdb51_split(dir.path().string() + "/absent", 1, HmdbSubset::kTrain, classes, options), FileError);
}

// ---- few-shot subsets ------------------------------------------------------------------------

std::vector<VideoRecord> make_records(const std::vector<int>& per_class) {
  std::vector<VideoRecord> records;
  for (int round = 0; round < 20; ++round)
    for (size_t c = 0; c < per_class.size(); ++c)
      if (round < per_class[c])
        records.push_back({"c" + std::to_string(c) + "_" + std::to_string(round), -1, {static_cast<int64_t>(c)}});
  records.push_back({"unlabelled", -1, {}});
  return records;
}

TEST(FewShot, TakesKPerClassReproducibly) {
  const auto records = make_records({12, 12, 2, 20});
  const auto subset = few_shot_subset(records, 4, 7);
  std::map<int64_t, int> per_class;
  for (const auto& r : subset) ++per_class[r.labels.front()];
  EXPECT_EQ(per_class, (std::map<int64_t, int>{{0, 4}, {1, 4}, {2, 2}, {3, 4}}));

  // Original order is kept: the subset is a subsequence of the records.
  const auto all = paths(records), chosen = paths(subset);
  auto at = all.begin();
  for (const auto& p : chosen) {
    at = std::find(at, all.end(), p);
    ASSERT_NE(at, all.end()) << p << " out of order";
  }

  EXPECT_EQ(paths(few_shot_subset(records, 4, 7)), chosen);
  EXPECT_NE(paths(few_shot_subset(records, 4, 8)), chosen);
  EXPECT_THROW(few_shot_subset(records, 0, 7), std::invalid_argument);
}

TEST(FewShot, AClassDrawDoesNotDependOnOtherClasses) {
  const auto records = make_records({12, 12, 2, 20});
  std::vector<VideoRecord> without_class_0;
  std::copy_if(records.begin(), records.end(), std::back_inserter(without_class_0),
               [](const VideoRecord& r) { return r.labels.empty() || r.labels.front() != 0; });
  const auto class_3 = [](const std::vector<VideoRecord>& subset) {
    std::set<std::string> out;
    for (const auto& r : subset)
      if (r.labels.front() == 3) out.insert(r.path);
    return out;
  };
  EXPECT_EQ(class_3(few_shot_subset(records, 3, 11)), class_3(few_shot_subset(without_class_0, 3, 11)));
}

}  // namespace
