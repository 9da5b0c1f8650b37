#pragma once
// A restricted pickle interpreter for the files torch.save and TorchScript write. It builds
// plain data (None, bools, numbers, strings, bytes, lists, tuples, sets, dicts and
// OrderedDicts) and descriptions of tensors and storages; nothing a file contains is ever
// executed. A global the interpreter does not know (os.system, builtins.eval, any class) is
// refused with a FileError naming the file and the global.
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actionclip::io::pickle {

enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Set, Dict, Global, Object, Storage, Tensor };

const char* kind_name(Kind kind);

struct Quantization;

// One value of the pickle. Values live in a Document and point at each other, so sharing and
// even cycles (which a hostile file can build) are harmless.
struct Value {
  Kind kind = Kind::None;
  bool flag = false;          // Bool; Tensor: requires_grad
  int64_t integer = 0;        // Int; Storage: element count; Tensor: storage offset
  double number = 0;          // Float
  std::string text;           // String, Bytes; Global, Object: "module.name"; Storage: record key
  std::vector<Value*> items;  // List, Tuple, Set; Tensor: {storage}
  std::vector<std::pair<Value*, Value*>> entries;  // Dict in insertion order; Object: attributes
  std::vector<int64_t> sizes, strides;             // Tensor
  c10::ScalarType dtype = c10::ScalarType::Undefined;  // Storage
  const Quantization* quantization = nullptr;          // Tensor: a quantized tensor's parameters

  bool is(Kind k) const { return kind == k; }
  // Dict or Object entry under a string key, or nullptr.
  const Value* get(const std::string& key) const;
};

struct Quantization {
  bool per_channel = false;
  double scale = 1;
  int64_t zero_point = 0;
  const Value* scales = nullptr;       // per channel: tensors
  const Value* zero_points = nullptr;
  int64_t axis = 0;
};

// Owns every value of one or more pickles.
class Document {
 public:
  // Throws FileError(path) past a limit no checkpoint comes near (a hostile file could
  // otherwise ask for billions of empty containers).
  Value* make(Kind kind, const std::string& path);
  Quantization* make_quantization() { return &quantizations_.emplace_back(); }
  // Index of string and integer dict keys (dict node -> key -> entry position), so that
  // SETITEM stays O(1) however large a dict grows.
  std::unordered_map<const Value*, std::unordered_map<std::string, size_t>>& dict_index() { return dict_index_; }

  static constexpr size_t kMaxValues = 4'000'000;

 private:
  std::deque<Value> values_;
  std::deque<Quantization> quantizations_;
  std::unordered_map<const Value*, std::unordered_map<std::string, size_t>> dict_index_;
};

struct Options {
  // TorchScript archives hold their modules as objects of `__torch__.*` classes: read as
  // their attributes, never constructed.
  bool torchscript_objects = false;
  // Resolves a persistent id (torch: ('storage', type, key, location, numel[, view])).
  std::function<Value*(Document&, const Value& id)> persistent_load;
};

// Interprets the pickle at data[0, size) and returns the value it stops with; `consumed`
// receives the number of bytes read (files of several pickles in a row, as the legacy
// torch.save layout). Every problem is a FileError naming `path`.
Value* unpickle(const std::string& path, const char* data, size_t size, Document& document, const Options& options,
                size_t* consumed = nullptr);

}  // namespace actionclip::io::pickle
