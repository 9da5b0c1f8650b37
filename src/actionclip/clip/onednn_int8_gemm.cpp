#include "actionclip/clip/onednn_int8_gemm.h"

#include "actionclip/util/error.h"

#include <oneapi/dnnl/dnnl.hpp>

namespace actionclip {
namespace {
using dnnl::memory;
using DataType = memory::data_type;
using Tag = memory::format_tag;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}
}  // namespace

struct OnednnInt8Gemm::State {
  int64_t in = 0, out = 0;
  dnnl::matmul product;
  memory packed_weights;
};

OnednnInt8Gemm::OnednnInt8Gemm(const torch::Tensor& weights) : state_(std::make_unique<State>()) {
  if (weights.scalar_type() != torch::kInt8 || weights.dim() != 2)
    throw Error("oneDNN int8 product needs int8 [out, in] weights, got " + c10::str(weights.sizes()));
  auto& s = *state_;
  s.out = weights.size(0);
  s.in = weights.size(1);
  // The row count varies per call (frames x tokens, prompts x tokens), so it is a run-time
  // dimension and one primitive, with one weight layout, serves every call.
  const memory::desc activations({DNNL_RUNTIME_DIM_VAL, s.in}, DataType::u8, Tag::ab);
  const memory::desc any_weights({s.in, s.out}, DataType::s8, Tag::any);
  const memory::desc acc({DNNL_RUNTIME_DIM_VAL, s.out}, DataType::s32, Tag::ab);
  const dnnl::matmul::primitive_desc product(dnnl::matmul::desc(activations, any_weights, acc), cpu_engine());
  s.product = dnnl::matmul(product);
  // [in, out] in oneDNN's terms is the transposed view of our [out, in] rows: format "ba".
  auto plain = weights.contiguous();
  memory plain_weights({{s.in, s.out}, DataType::s8, Tag::ba}, cpu_engine(), plain.data_ptr());
  s.packed_weights = memory(product.weights_desc(), cpu_engine());
  dnnl::stream stream(cpu_engine());
  dnnl::reorder(plain_weights, s.packed_weights).execute(stream, plain_weights, s.packed_weights);
  stream.wait();
}

OnednnInt8Gemm::~OnednnInt8Gemm() = default;

int64_t OnednnInt8Gemm::in_features() const { return state_->in; }
int64_t OnednnInt8Gemm::out_features() const { return state_->out; }

void OnednnInt8Gemm::multiply(const uint8_t* activations, int64_t rows, int32_t* acc) const {
  const auto& s = *state_;
  // oneDNN's API takes mutable pointers; the source is only read.
  memory source({{rows, s.in}, DataType::u8, Tag::ab}, cpu_engine(), const_cast<uint8_t*>(activations));
  memory destination({{rows, s.out}, DataType::s32, Tag::ab}, cpu_engine(), acc);
  dnnl::stream stream(cpu_engine());
  s.product.execute(stream,
                    {{DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, s.packed_weights}, {DNNL_ARG_DST, destination}});
  stream.wait();
}

torch::Tensor OnednnInt8Gemm::weights() const {
  const auto& s = *state_;
  auto plain = torch::empty({s.out, s.in}, torch::kInt8);
  memory plain_weights({{s.in, s.out}, DataType::s8, Tag::ba}, cpu_engine(), plain.data_ptr());
  dnnl::stream stream(cpu_engine());
  auto packed = s.packed_weights;
  dnnl::reorder(packed, plain_weights).execute(stream, packed, plain_weights);
  stream.wait();
  return plain;
}

}  // namespace actionclip
