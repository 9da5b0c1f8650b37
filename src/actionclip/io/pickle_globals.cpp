#include "actionclip/io/pickle_globals.h"

#include <array>
#include <set>

#include "actionclip/util/error.h"

namespace actionclip::io::pickle {
namespace {

using c10::ScalarType;

struct StorageType {
  const char* name;
  ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", ScalarType::Float},       {"DoubleStorage", ScalarType::Double},
    {"HalfStorage", ScalarType::Half},         {"BFloat16Storage", ScalarType::BFloat16},
    {"LongStorage", ScalarType::Long},         {"IntStorage", ScalarType::Int},
    {"ShortStorage", ScalarType::Short},       {"CharStorage", ScalarType::Char},
    {"ByteStorage", ScalarType::Byte},         {"BoolStorage", ScalarType::Bool},
    {"ComplexFloatStorage", ScalarType::ComplexFloat}, {"ComplexDoubleStorage", ScalarType::ComplexDouble},
    {"QInt8Storage", ScalarType::QInt8},       {"QUInt8Storage", ScalarType::QUInt8},
    {"QInt32Storage", ScalarType::QInt32},     {"UntypedStorage", ScalarType::Byte},
};

// Names that are data, never called: dtypes, quantization schemes, tensor classes.
const std::set<std::string> kTorchNames = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
    "int16", "short", "int8", "uint8", "bool", "complex64", "complex128", "qint8", "quint8", "qint32",
    "per_tensor_affine", "per_channel_affine", "per_channel_affine_float_qparams", "Size", "Tensor"};

const std::set<std::string> kCallables = {
    "collections.OrderedDict",
    "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
    "_codecs.encode",
    "torch.Size",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_qtensor",
    "torch._tensor._rebuild_from_type_v2",
    "torch.jit._pickle.restore_type_tag", "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_genericlist",
    "torch.nn.parameter.Parameter"};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FileError(path, what + " (corrupt file?)");
}

const Value& arg(const std::string& path, const Value& args, size_t i, Kind kind, const std::string& function) {
  if (i >= args.items.size()) fail(path, function + " has too few arguments");
  const Value& v = *args.items[i];
  if (!v.is(kind)) fail(path, function + " argument " + std::to_string(i) + " is a " + kind_name(v.kind) + ", not a " + kind_name(kind));
  return v;
}

std::vector<int64_t> int_tuple(const std::string& path, const Value& v, const std::string& what) {
  if (!v.is(Kind::Tuple) && !v.is(Kind::List)) fail(path, what + " is not a tuple");
  if (v.items.size() > 64) fail(path, what + " has " + std::to_string(v.items.size()) + " dimensions");
  std::vector<int64_t> out;
  for (const auto* item : v.items) {
    if (!item->is(Kind::Int) || item->integer < 0) fail(path, what + " holds a negative or non-integer entry");
    out.push_back(item->integer);
  }
  return out;
}

// Rejects a view that reaches outside its storage, or has more elements than it.
void check_view(const std::string& path, const Value& storage, int64_t offset, const std::vector<int64_t>& sizes,
                const std::vector<int64_t>& strides) {
  if (sizes.size() != strides.size()) fail(path, "tensor has " + std::to_string(sizes.size()) + " sizes but " + std::to_string(strides.size()) + " strides");
  if (offset < 0) fail(path, "tensor has a negative storage offset");
  int64_t numel = 1, last = offset;
  for (size_t d = 0; d < sizes.size(); ++d) {
    int64_t step = 0;
    if (__builtin_mul_overflow(numel, sizes[d], &numel) || __builtin_mul_overflow(sizes[d] ? sizes[d] - 1 : 0, strides[d], &step) ||
        __builtin_add_overflow(last, step, &last))
      fail(path, "tensor sizes overflow");
  }
  if (numel == 0) return;
  if (last >= storage.integer || numel > storage.integer)
    fail(path, "tensor of " + std::to_string(numel) + " elements reaches element " + std::to_string(last) +
                   " of a storage of " + std::to_string(storage.integer));
}

Value* rebuild_tensor(Document& doc, const std::string& path, const Value& args, const std::string& function) {
  const auto& storage = arg(path, args, 0, Kind::Storage, function);
  const auto offset = arg(path, args, 1, Kind::Int, function).integer;
  if (args.items.size() < 4) fail(path, function + " has too few arguments");
  auto sizes = int_tuple(path, *args.items[2], "tensor size");
  auto strides = int_tuple(path, *args.items[3], "tensor stride");
  check_view(path, storage, offset, sizes, strides);
  auto* t = doc.make(Kind::Tensor, path);
  t->items = {const_cast<Value*>(&storage)};
  t->integer = offset;
  t->sizes = std::move(sizes);
  t->strides = std::move(strides);
  if (args.items.size() > 4 && args.items[4]->is(Kind::Bool)) t->flag = args.items[4]->flag;
  return t;
}

double number(const std::string& path, const Value& v) {
  if (v.is(Kind::Float)) return v.number;
  if (v.is(Kind::Int)) return static_cast<double>(v.integer);
  fail(path, "quantization parameter is not a number");
}

Value* rebuild_qtensor(Document& doc, const std::string& path, const Value& args) {
  const std::string function = "torch._utils._rebuild_qtensor";
  auto* t = rebuild_tensor(doc, path, args, function);
  if (args.items.size() < 6) fail(path, function + " has too few arguments");
  t->flag = args.items[5]->is(Kind::Bool) && args.items[5]->flag;
  const auto& params = arg(path, args, 4, Kind::Tuple, function);
  if (params.items.empty() || !params.items[0]->is(Kind::Global)) fail(path, "quantized tensor without a scheme");
  const auto& scheme = params.items[0]->text;
  auto* q = doc.make_quantization();
  if (scheme == "torch.per_tensor_affine" && params.items.size() >= 3) {
    q->scale = number(path, *params.items[1]);
    q->zero_point = static_cast<int64_t>(number(path, *params.items[2]));
  } else if ((scheme == "torch.per_channel_affine" || scheme == "torch.per_channel_affine_float_qparams") &&
             params.items.size() >= 4 && params.items[1]->is(Kind::Tensor) && params.items[2]->is(Kind::Tensor) &&
             params.items[3]->is(Kind::Int)) {
    q->per_channel = true;
    q->scales = params.items[1];
    q->zero_points = params.items[2];
    q->axis = params.items[3]->integer;
    if (q->axis < 0 || q->axis >= static_cast<int64_t>(t->sizes.size())) fail(path, "quantization axis out of range");
  } else {
    fail(path, "quantization scheme '" + scheme + "' is not supported");
  }
  t->quantization = q;
  return t;
}

// Python 3 pickles bytes at protocol 2 as _codecs.encode(<latin-1 text as str>, 'latin1').
Value* latin1_bytes(Document& doc, const std::string& path, const Value& args) {
  const auto& text = arg(path, args, 0, Kind::String, "_codecs.encode").text;
  auto* out = doc.make(Kind::Bytes, path);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out->text.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size()) {
      out->text.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F)));
    } else {
      fail(path, "_codecs.encode of text outside latin-1");
    }
  }
  return out;
}

}  // namespace

c10::ScalarType storage_dtype(const std::string& path, const Value& storage_type) {
  if (storage_type.is(Kind::Global)) {
    for (const auto& s : kStorageTypes)
      if (storage_type.text == std::string("torch.") + s.name || storage_type.text == std::string("torch.storage.") + s.name)
        return s.dtype;
  }
  fail(path, "storage reference names '" + storage_type.text + "', not a storage type");
}

Value* resolve_global(Document& doc, const std::string& path, const std::string& module, const std::string& name,
                      const Options& options) {
  const auto full = module + "." + name;
  bool allowed = kCallables.count(full) > 0 || (module == "torch" && kTorchNames.count(name)) ||
                 (options.torchscript_objects && module.rfind("__torch__", 0) == 0);
  for (const auto& s : kStorageTypes)
    allowed = allowed || ((module == "torch" || module == "torch.storage") && name == s.name);
  if (!allowed)
    throw FileError(path, "refused to load the global '" + full +
                              "': a weights file may only hold tensors and plain data, and nothing it contains is "
                              "ever executed (the file may be malicious)");
  auto* g = doc.make(Kind::Global, path);
  g->text = full;
  return g;
}

Value* call_global(Document& doc, const std::string& path, const Value& callable, const Value& args) {
  if (!callable.is(Kind::Global)) fail(path, std::string("REDUCE calls a ") + kind_name(callable.kind));
  const auto& f = callable.text;
  if (f == "collections.OrderedDict") {
    auto* dict = doc.make(Kind::Dict, path);
    if (args.items.empty()) return dict;
    const auto& pairs = *args.items[0];
    if (!pairs.is(Kind::List) && !pairs.is(Kind::Tuple)) fail(path, "OrderedDict of a " + std::string(kind_name(pairs.kind)));
    for (const auto* pair : pairs.items) {
      if (!(pair->is(Kind::Tuple) || pair->is(Kind::List)) || pair->items.size() != 2) fail(path, "OrderedDict item is not a pair");
      dict->entries.emplace_back(pair->items[0], pair->items[1]);
    }
    return dict;
  }
  if (f == "builtins.set" || f == "builtins.frozenset" || f == "__builtin__.set" || f == "__builtin__.frozenset") {
    auto* set = doc.make(Kind::Set, path);
    if (!args.items.empty()) {
      const auto& items = *args.items[0];
      if (!items.is(Kind::List) && !items.is(Kind::Tuple) && !items.is(Kind::Set)) fail(path, "set of a non-sequence");
      set->items = items.items;
    }
    return set;
  }
  if (f == "_codecs.encode") return latin1_bytes(doc, path, args);
  if (f == "torch.Size") {
    auto* size = doc.make(Kind::Tuple, path);
    int_tuple(path, arg(path, args, 0, Kind::Tuple, f), "torch.Size");
    size->items = args.items[0]->items;
    return size;
  }
  if (f == "torch._utils._rebuild_tensor" || f == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(doc, path, args, f);
  if (f == "torch._utils._rebuild_qtensor") return rebuild_qtensor(doc, path, args);
  if (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state" ||
      f == "torch.nn.parameter.Parameter") {
    const auto& data = arg(path, args, 0, Kind::Tensor, f);
    auto* t = doc.make(Kind::Tensor, path);
    *t = data;
    t->flag = args.items.size() > 1 && args.items[1]->is(Kind::Bool) ? args.items[1]->flag : true;
    return t;
  }
  if (f == "torch._tensor._rebuild_from_type_v2") {
    const auto& function = arg(path, args, 0, Kind::Global, f);
    const auto& type = arg(path, args, 1, Kind::Global, f);
    if (type.text != "torch.Tensor" && type.text != "torch.nn.parameter.Parameter")
      fail(path, "tensor subclass '" + type.text + "' is not supported");
    if (function.text == f) fail(path, f + " calls itself");
    return call_global(doc, path, function, arg(path, args, 2, Kind::Tuple, f));
  }
  if (f == "torch.jit._pickle.restore_type_tag") {
    if (args.items.empty()) fail(path, f + " has no arguments");
    return args.items[0];
  }
  if (f.rfind("torch.jit._pickle.build_", 0) == 0) return const_cast<Value*>(&arg(path, args, 0, Kind::List, f));
  fail(path, "'" + f + "' cannot be called");
}

Value* new_object(Document& doc, const std::string& path, const Value& cls, const Value&) {
  if (cls.is(Kind::Global) && cls.text.rfind("__torch__", 0) == 0) {
    auto* object = doc.make(Kind::Object, path);
    object->text = cls.text;
    return object;
  }
  if (cls.is(Kind::Global) && cls.text == "collections.OrderedDict") return doc.make(Kind::Dict, path);
  fail(path, "cannot create an instance of '" + cls.text + "'");
}

void build_object(Document&, const std::string& path, Value& object, const Value& state) {
  if (object.is(Kind::Object)) {
    // Attributes of a TorchScript module; a state that is not a dict would need the class's
    // __setstate__, which is code: it is kept, never run.
    if (state.is(Kind::Dict)) object.entries = state.entries;
    else object.items.push_back(const_cast<Value*>(&state));
    return;
  }
  if (object.is(Kind::Dict)) return;  // an OrderedDict's attributes (state_dict's _metadata): not weights
  if (object.is(Kind::Tensor) && (state.is(Kind::None) || (state.is(Kind::Dict) && state.entries.empty()))) return;
  fail(path, std::string("BUILD on a ") + kind_name(object.kind));
}

}  // namespace actionclip::io::pickle
