#pragma once
// Row-wise all-gather of per-rank batches, with and without gradient. With gradient, as
// mmaction2's GatherLayer and open_clip's gather_with_grad: backward sums every rank's gradient
// of the gathered tensor and hands each rank its own rows, so a loss computed on the gathered
// batch on every rank gives each rank the gradient of that loss with respect to its own inputs.
#include <torch/torch.h>

#include "actionclip/dist/process_group.h"

namespace actionclip::dist {

// Every rank's `rows` ([n_r, ...], n_r may differ), concatenated in rank order; no gradient.
torch::Tensor all_gather_rows(ProcessGroup& group, const torch::Tensor& rows);

// The same, differentiable: the gradient reaching `rows` is the sum over ranks of the gradient of
// the gathered tensor at this rank's rows.
torch::Tensor all_gather_rows_with_grad(ProcessGroup& group, const torch::Tensor& rows);

}  // namespace actionclip::dist
