#include "actionclip/io/pickle.h"

#include <charconv>
#include <cstring>

#include "actionclip/io/pickle_globals.h"
#include "actionclip/util/error.h"

namespace actionclip::io::pickle {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Set: return "set";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

const Value* Value::get(const std::string& key) const {
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::String && k->text == key) return v;
  return nullptr;
}

Value* Document::make(Kind kind, const std::string& path) {
  if (values_.size() >= kMaxValues)
    throw FileError(path, "pickle builds more than " + std::to_string(kMaxValues) + " values: not a checkpoint");
  auto& v = values_.emplace_back();
  v.kind = kind;
  return &v;
}

namespace {

// The interpreter's state for one pickle: the stack, the marks and the memo.
class Machine {
 public:
  Machine(const std::string& path, const char* data, size_t size, Document& document, const Options& options)
      : path_(path), data_(data), size_(size), doc_(document), options_(options) {}

  Value* run(size_t* consumed) {
    while (true) {
      const auto offset = pos_;
      const auto op = static_cast<unsigned char>(byte());
      if (op == '.') {
        if (stack_.size() != 1 || !marks_.empty()) fail(offset, "STOP with " + std::to_string(stack_.size()) + " values on the stack");
        if (consumed) *consumed = pos_;
        return stack_.back();
      }
      step(op, offset);
    }
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& what) const {
    throw FileError(path_, "pickle at byte " + std::to_string(offset) + ": " + what + " (corrupt file?)");
  }

  const char* take(size_t n) {
    if (n > size_ - pos_) fail(pos_, "data ends early (truncated file)");
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  char byte() { return *take(1); }
  uint64_t unsigned_le(size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(take(n));
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }
  std::string line() {
    const void* end = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (!end) fail(pos_, "unterminated text argument (truncated file)");
    const auto n = static_cast<size_t>(static_cast<const char*>(end) - (data_ + pos_));
    std::string s(take(n), n);
    pos_ += 1;
    return s;
  }
  int64_t parse_int(const std::string& text, size_t offset) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) fail(offset, "bad integer '" + text + "'");
    return v;
  }

  Value* make(Kind kind) { return doc_.make(kind, path_); }
  Value* make_int(int64_t v) {
    auto* x = make(Kind::Int);
    x->integer = v;
    return x;
  }
  Value* make_text(Kind kind, size_t n) {
    auto* x = make(kind);
    x->text.assign(take(n), n);
    return x;
  }
  Value* length_prefixed(Kind kind, size_t length_bytes) {
    const auto n = unsigned_le(length_bytes);
    if (n > size_ - pos_) fail(pos_, "a string of " + std::to_string(n) + " bytes runs past the end (truncated file)");
    return make_text(kind, static_cast<size_t>(n));
  }

  void push(Value* v) { stack_.push_back(v); }
  Value* pop(size_t offset) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail(offset, "stack underflow");
    auto* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top(size_t offset) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail(offset, "stack underflow");
    return stack_.back();
  }
  std::vector<Value*> pop_to_mark(size_t offset) {
    if (marks_.empty()) fail(offset, "no MARK on the stack");
    const auto mark = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Value* container(Kind kind, std::vector<Value*> items) {
    auto* v = make(kind);
    v->items = std::move(items);
    return v;
  }

  Value* memo_get(uint64_t key, size_t offset) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail(offset, "memo key " + std::to_string(key) + " was never stored");
    return it->second;
  }

  void set_item(Value* dict, Value* key, Value* value, size_t offset) {
    if (!dict->is(Kind::Dict)) fail(offset, std::string("SETITEM on a ") + kind_name(dict->kind));
    std::string index_key;
    if (key->is(Kind::String)) index_key = "s" + key->text;
    else if (key->is(Kind::Int)) index_key = "i" + std::to_string(key->integer);
    if (!index_key.empty()) {
      auto& index = doc_.dict_index()[dict];
      auto [it, inserted] = index.emplace(index_key, dict->entries.size());
      if (!inserted) {
        dict->entries[it->second].second = value;
        return;
      }
    }
    dict->entries.emplace_back(key, value);
  }

  void step(unsigned char op, size_t offset) {
    switch (op) {
      case 0x80: {  // PROTO
        const auto protocol = static_cast<unsigned char>(byte());
        if (protocol > 5) fail(offset, "pickle protocol " + std::to_string(protocol) + " is newer than 5");
        return;
      }
      case 0x95: take(8); return;  // FRAME: a length hint only
      case '(': marks_.push_back(stack_.size()); return;
      case '0': pop(offset); return;
      case '1': pop_to_mark(offset); return;
      case '2': push(top(offset)); return;
      case 'N': push(make(Kind::None)); return;
      case 0x88: case 0x89: {
        auto* v = make(Kind::Bool);
        v->flag = op == 0x88;
        push(v);
        return;
      }
      case 'I': {
        const auto text = line();
        if (text == "00" || text == "01") {
          auto* v = make(Kind::Bool);
          v->flag = text == "01";
          push(v);
        } else {
          push(make_int(parse_int(text, offset)));
        }
        return;
      }
      case 'L': {
        auto text = line();
        if (!text.empty() && text.back() == 'L') text.pop_back();
        push(make_int(parse_int(text, offset)));
        return;
      }
      case 'J': push(make_int(static_cast<int32_t>(unsigned_le(4)))); return;
      case 'K': push(make_int(static_cast<int64_t>(unsigned_le(1)))); return;
      case 'M': push(make_int(static_cast<int64_t>(unsigned_le(2)))); return;
      case 0x8a: case 0x8b: {  // LONG1, LONG4: little-endian two's complement
        const auto n = unsigned_le(op == 0x8a ? 1 : 4);
        if (n > 8) fail(offset, "integer of " + std::to_string(n) + " bytes does not fit 64 bits");
        uint64_t v = n ? unsigned_le(static_cast<size_t>(n)) : 0;
        if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
        push(make_int(static_cast<int64_t>(v)));
        return;
      }
      case 'F': {
        const auto text = line();
        auto* v = make(Kind::Float);
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v->number);
        if (ec != std::errc() || end != text.data() + text.size()) fail(offset, "bad float '" + text + "'");
        push(v);
        return;
      }
      case 'G': {
        const auto bits = reinterpret_cast<const unsigned char*>(take(8));
        uint64_t big = 0;
        for (int i = 0; i < 8; ++i) big = (big << 8) | bits[i];
        auto* v = make(Kind::Float);
        std::memcpy(&v->number, &big, 8);
        push(v);
        return;
      }
      case 'T': push(length_prefixed(Kind::String, 4)); return;   // BINSTRING (Python 2 str)
      case 'U': push(length_prefixed(Kind::String, 1)); return;   // SHORT_BINSTRING
      case 'X': push(length_prefixed(Kind::String, 4)); return;   // BINUNICODE
      case 0x8c: push(length_prefixed(Kind::String, 1)); return;  // SHORT_BINUNICODE
      case 0x8d: push(length_prefixed(Kind::String, 8)); return;  // BINUNICODE8
      case 'B': push(length_prefixed(Kind::Bytes, 4)); return;
      case 'C': push(length_prefixed(Kind::Bytes, 1)); return;
      case 0x8e: case 0x96: push(length_prefixed(Kind::Bytes, 8)); return;  // BINBYTES8, BYTEARRAY8
      case ']': push(make(Kind::List)); return;
      case ')': push(make(Kind::Tuple)); return;
      case '}': push(make(Kind::Dict)); return;
      case 0x8f: push(make(Kind::Set)); return;
      case 'l': push(container(Kind::List, pop_to_mark(offset))); return;
      case 't': push(container(Kind::Tuple, pop_to_mark(offset))); return;
      case 0x91: push(container(Kind::Set, pop_to_mark(offset))); return;  // FROZENSET
      case 0x85: case 0x86: case 0x87: {
        std::vector<Value*> items(static_cast<size_t>(op - 0x84));
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop(offset);
        push(container(Kind::Tuple, std::move(items)));
        return;
      }
      case 'd': {
        auto items = pop_to_mark(offset);
        if (items.size() % 2) fail(offset, "DICT with an odd number of items");
        auto* dict = make(Kind::Dict);
        for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1], offset);
        push(dict);
        return;
      }
      case 'a': {
        auto* v = pop(offset);
        auto* list = top(offset);
        if (!list->is(Kind::List)) fail(offset, std::string("APPEND to a ") + kind_name(list->kind));
        list->items.push_back(v);
        return;
      }
      case 'e': case 0x90: {  // APPENDS, ADDITEMS
        auto items = pop_to_mark(offset);
        auto* target = top(offset);
        if (!target->is(op == 'e' ? Kind::List : Kind::Set)) fail(offset, std::string("cannot add items to a ") + kind_name(target->kind));
        target->items.insert(target->items.end(), items.begin(), items.end());
        return;
      }
      case 's': {
        auto* value = pop(offset);
        auto* key = pop(offset);
        set_item(top(offset), key, value, offset);
        return;
      }
      case 'u': {
        auto items = pop_to_mark(offset);
        if (items.size() % 2) fail(offset, "SETITEMS with an odd number of items");
        auto* dict = top(offset);
        for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1], offset);
        return;
      }
      case 'p': memo_[static_cast<uint64_t>(parse_int(line(), offset))] = top(offset); return;
      case 'q': memo_[unsigned_le(1)] = top(offset); return;
      case 'r': memo_[unsigned_le(4)] = top(offset); return;
      case 0x94: memo_[memo_.size()] = top(offset); return;  // MEMOIZE
      case 'g': push(memo_get(static_cast<uint64_t>(parse_int(line(), offset)), offset)); return;
      case 'h': push(memo_get(unsigned_le(1), offset)); return;
      case 'j': push(memo_get(unsigned_le(4), offset)); return;
      case 'c': {
        const auto module = line();
        const auto name = line();
        push(resolve_global(doc_, path_, module, name, options_));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        auto* name = pop(offset);
        auto* module = pop(offset);
        if (!name->is(Kind::String) || !module->is(Kind::String)) fail(offset, "STACK_GLOBAL needs two strings");
        push(resolve_global(doc_, path_, module->text, name->text, options_));
        return;
      }
      case 'R': {
        auto* args = pop(offset);
        auto* callable = pop(offset);
        if (!args->is(Kind::Tuple)) fail(offset, "REDUCE arguments are not a tuple");
        push(call_global(doc_, path_, *callable, *args));
        return;
      }
      case 0x81: {  // NEWOBJ
        auto* args = pop(offset);
        auto* cls = pop(offset);
        if (!args->is(Kind::Tuple)) fail(offset, "NEWOBJ arguments are not a tuple");
        push(new_object(doc_, path_, *cls, *args));
        return;
      }
      case 0x92: {  // NEWOBJ_EX: keyword arguments are never needed by weights
        auto* kwargs = pop(offset);
        auto* args = pop(offset);
        auto* cls = pop(offset);
        if (!args->is(Kind::Tuple) || !kwargs->is(Kind::Dict) || !kwargs->entries.empty())
          fail(offset, "NEWOBJ_EX with keyword arguments");
        push(new_object(doc_, path_, *cls, *args));
        return;
      }
      case 'b': {
        auto* state = pop(offset);
        build_object(doc_, path_, *top(offset), *state);
        return;
      }
      case 'Q': case 'P': {
        Value* id = op == 'Q' ? pop(offset) : make_text(Kind::String, 0);
        if (op == 'P') id->text = line();
        if (!options_.persistent_load) fail(offset, "persistent reference in a pickle that may not have any");
        push(options_.persistent_load(doc_, *id));
        return;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(offset, std::string("unsupported opcode ") + hex +
                         " (instance creation, extension registry and out-of-band buffers are refused)");
      }
    }
  }

  const std::string& path_;
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  Document& doc_;
  const Options& options_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
};

}  // namespace

Value* unpickle(const std::string& path, const char* data, size_t size, Document& document, const Options& options,
                size_t* consumed) {
  return Machine(path, data, size, document, options).run(consumed);
}

}  // namespace actionclip::io::pickle
