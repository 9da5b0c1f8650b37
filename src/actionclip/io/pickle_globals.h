#pragma once
// The globals a torch.save or TorchScript pickle may name, and what REDUCE, NEWOBJ and BUILD
// make of them: containers, tensor descriptions (torch._utils._rebuild_*), storage types,
// dtypes. Everything else is refused. Used by the interpreter in pickle.cpp.
#include "actionclip/io/pickle.h"

namespace actionclip::io::pickle {

// The value GLOBAL pushes for module.name; a FileError naming the global when it is refused.
Value* resolve_global(Document& document, const std::string& path, const std::string& module, const std::string& name,
                      const Options& options);
Value* call_global(Document& document, const std::string& path, const Value& callable, const Value& args);
Value* new_object(Document& document, const std::string& path, const Value& cls, const Value& args);
void build_object(Document& document, const std::string& path, Value& object, const Value& state);

// The element type of a storage class global (torch.FloatStorage -> float32, ...).
c10::ScalarType storage_dtype(const std::string& path, const Value& storage_type);

}  // namespace actionclip::io::pickle
