#pragma once
// Annotation files: which videos a dataset holds and their class ids (0-based, indexing the label
// list of labels.h).
//
// Formats, one entry per line, fields separated by blanks (so paths cannot contain blanks, as in
// the reference and mmaction2):
//   rawframe list   "<frame_dir> <num_frames> <label> [<label> ...]"   ActionCLIP's / TSN's lists
//   video list      "<video> <label> [<label> ...]"                    mmaction2's VideoDataset
//     Several labels make a multi-label entry (Charades-style), written as mmaction2 writes them:
//     further integers on the line, not a comma list.
//   Kinetics CSV    "label,youtube_id,time_start,time_end,split" with that header; the video is
//     <root>/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4 as the ActivityNet downloader
//     stores it. With check_exists the label folder may also be spelt with underscores, the
//     videos may lie directly in <root> (the CVDF mirror's layout), and .mkv and .webm are
//     tried too; without it the first layout is assumed.
//   UCF-101 split   trainlist0k.txt "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1" (1-based
//     classInd id) or testlist0k.txt without the id, the class then named by the folder.
//   HMDB-51 split   a folder of "<class>_test_split<k>.txt" files, lines "<video>.avi <0|1|2>"
//     (1 train, 2 test, 0 unused); videos at <root>/<class>/<video>.avi.
// Class names in annotations are matched to the label list after humanize_label, so
// "ApplyEyeMakeup", "brush_hair" and "passing_American_football_(in_game)" find "apply eye
// makeup", "brush hair" and "passing American football (in game)".
//
// Entries that cannot be used (malformed, unknown class, missing video) are skipped and described
// in AnnotationReport::problems; a large dataset usually has a few, and one bad line should not
// cost a training run. Only an annotation file that cannot be read at all throws FileError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace actionclip::data {

struct VideoRecord {
  std::string path;  // a video file, or a folder of frames for rawframe lists
  int64_t num_frames = -1;  // -1: unknown, count by decoding
  std::vector<int64_t> labels;  // one for single-label datasets
};

struct AnnotationOptions {
  // Relative paths in annotations are taken relative to this folder; empty keeps them as written.
  std::string data_root;
  // Drop entries whose video (or frame folder) is missing, so that a partly downloaded dataset
  // is filtered once up front instead of failing mid-epoch.
  bool check_exists = true;
  // When positive, labels outside [0, num_classes) are reported: a list that does not belong to
  // the label file would otherwise train on the wrong names.
  int64_t num_classes = 0;
};

struct AnnotationReport {
  std::vector<VideoRecord> records;
  std::vector<std::string> problems;  // "file:line: why"
  std::size_t skipped = 0;  // entries dropped; problems may also name whole files
};

AnnotationReport read_rawframe_list(const std::string& path, const AnnotationOptions& options = {});
AnnotationReport read_video_list(const std::string& path, const AnnotationOptions& options = {});

// data_root is the folder holding the label folders. `class_names` maps label names to ids.
AnnotationReport read_kinetics_csv(const std::string& path, const std::vector<std::string>& class_names,
                                   const AnnotationOptions& options = {});

// `class_names` in classInd order (read_label_file("classInd.txt"), or ActionCLIP's
// ucf_labels.csv). When a line has an id the id decides, and a folder that names another known
// class is reported as a conflict; without one the folder must name a known class.
AnnotationReport read_ucf101_split(const std::string& path, const std::vector<std::string>& class_names,
                                   const AnnotationOptions& options = {});

enum class HmdbSubset { kTrain = 1, kTest = 2 };

// Reads every "<class>_test_split<split>.txt" in `split_dir`, records ordered by class id, then
// as listed. Throws FileError when the folder cannot be read or holds no file for `split`.
AnnotationReport read_hmdb51_split(const std::string& split_dir, int split, HmdbSubset subset,
                                   const std::vector<std::string>& class_names,
                                   const AnnotationOptions& options = {});

// At most `shots` videos of each class (the first label of a record), in their original order;
// records without labels are dropped. The videos of a class depend only on the seed, the class
// and that class's records, so adding or removing other classes does not change them.
std::vector<VideoRecord> few_shot_subset(const std::vector<VideoRecord>& records, int shots, uint64_t seed);

}  // namespace actionclip::data
