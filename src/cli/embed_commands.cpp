// actionclip embed-text / embed-image / embed-video / search
#include <filesystem>
#include <iostream>

#include "actionclip/dist/sharded_encode.h"
#include "actionclip/dist/shards.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/inference/video_index.h"
#include "actionclip/util/error.h"
#include "actionclip/util/notices.h"
#include "actionclip/video/image_reader.h"
#include "actionclip/video/transforms.h"
#include "commands.h"
#include "distributed.h"

namespace actionclip::cli {

// Unit-length image features [N, D] for image files, CLIP preprocessing at the model's resolution.
torch::Tensor embed_images(LoadedModel& loaded, const std::vector<std::string>& paths, torch::Device device) {
  const auto preprocess = video::ClipPreprocess::clip(static_cast<int>(loaded.model->clip->config().image_resolution));
  std::vector<torch::Tensor> pixels;
  for (const auto& path : paths) pixels.push_back(preprocess({video::read_image(path)}));
  torch::NoGradGuard no_grad;
  return l2_normalize(loaded.model->clip->encode_image(torch::cat(pixels).to(device))).cpu();
}

void add_embed_commands(CLI::App& app, Action& action) {
  {
    auto* cmd = app.add_subcommand("embed-text", "Normalized text embeddings (JSON to stdout, or --output .npy/.json)");
    auto args = std::make_shared<ModelArgs>();
    auto texts = std::make_shared<std::vector<std::string>>();
    auto output = std::make_shared<std::string>();
    add_model_options(cmd, *args, false);
    cmd->add_option("text", *texts, "texts to embed")->required();
    cmd->add_option("-o,--output", *output, "output file: .npy or .json (default: JSON on stdout)");
    cmd->callback([&action, args, texts, output] {
      action = [args, texts, output] {
        auto loaded = load_model_from_args(*args);
        TextEmbedder embedder(loaded.model, loaded.tokenizer);
        write_embeddings(*output, embedder.embed(*texts), "texts", *texts);
        return 0;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("embed-image", "Normalized image embeddings (JSON to stdout, or --output .npy/.json)");
    auto args = std::make_shared<ModelArgs>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto output = std::make_shared<std::string>();
    add_model_options(cmd, *args, false);
    cmd->add_option("image", *images, "image files (JPEG, PNG, ...)")->required();
    cmd->add_option("-o,--output", *output, "output file: .npy or .json (default: JSON on stdout)");
    cmd->callback([&action, args, images, output] {
      action = [args, images, output] {
        auto loaded = load_model_from_args(*args, false);
        write_embeddings(*output, embed_images(loaded, *images, parse_device(args->device)), "paths", *images);
        return 0;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("embed-video", "Embed videos into a searchable index (.safetensors) or .npy/.json");
    auto args = std::make_shared<ModelArgs>();
    auto inputs = std::make_shared<std::vector<std::string>>();
    auto output = std::make_shared<std::string>();
    auto views = std::make_shared<std::string>("1x1");
    auto batch = std::make_shared<int>(8);
    auto workers = std::make_shared<int>(2);
    auto dist_args = std::make_shared<DistArgs>();
    add_model_options(cmd, *args, true);
    cmd->add_option("videos", *inputs, "video files, folders, or .txt lists")->required();
    cmd->add_option("-o,--output", *output, "index.safetensors (for 'search'), or .npy / .json")->required();
    cmd->add_option("--views", *views, "CROPSxCLIPS test views, averaged")->capture_default_str();
    cmd->add_option("--batch-size", *batch, "videos per model call")->capture_default_str();
    cmd->add_option("--workers", *workers, "decoding threads")->capture_default_str();
    add_dist_options(cmd, *dist_args);
    cmd->callback([&action, args, inputs, output, views, batch, workers, dist_args] {
      action = [args, inputs, output, views, batch, workers, dist_args] {
        return run_as_rank(*dist_args, args->device, [=](std::shared_ptr<dist::ProcessGroup> group) {
          auto model_args = *args;
          model_args.device = rank_device(args->device);
          auto loaded = load_model_from_args(model_args, false);
          auto paths = expand_video_inputs(*inputs, model_args);
          const auto options = video_encoder_options(loaded, *views, *batch, *workers, model_args);
          VideoEncoder encoder(loaded.model, options);
          VideoIndex index;
          std::vector<torch::Tensor> rows;
          Progress progress("embed", static_cast<int64_t>(paths.size()));
          auto summarize = [](EncodedVideo& video) -> nlohmann::json {
            if (!video.error.empty()) return {{"path", video.path}, {"error", video.error}};
            const auto embedding = index_embedding(video.view_features);
            return {{"path", video.path}, {"dim", embedding.numel()}, {"embedding", dist::tensor_bytes(embedding)}};
          };
          auto keep = [&](const nlohmann::json& result) {
            if (result.contains("error")) {
              std::cerr << "actionclip: skipped " << result["error"].get<std::string>() << "\n";
              return;
            }
            index.paths.push_back(result["path"].get<std::string>());
            rows.push_back(dist::tensor_from_bytes(result["embedding"], {result["dim"].get<int64_t>()}, torch::kFloat32));
          };
          auto stats = dist::encode_in_order(group.get(), encoder, paths, static_cast<size_t>(options.batch_size),
                                             summarize, keep, &progress);
          progress.finish();
          const int status = stats.failed == 0 ? 0 : stats.failed < stats.videos ? 2 : 1;
          if (group && !group->is_main()) return status;  // rank 0 reports and writes
          if (rows.empty()) throw Error("no video could be embedded");
          index.embeddings = torch::stack(rows);
          index.info = {{"model", file_identity(args->model)}, {"views", *views},
                        {"visual_prompt", prompt_type_name(loaded.model->options().prompt)}};
          const auto ext = std::filesystem::path(*output).extension().string();
          if (ext == ".npy" || ext == ".json") write_embeddings(*output, index.embeddings, "paths", index.paths);
          else save_video_index(*output, index);
          notices() << "embedded " << rows.size() << " of " << paths.size() << " videos into " << *output << "\n";
          return status;
        });
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("search", "Rank the videos of an index by a text query");
    auto args = std::make_shared<ModelArgs>();
    auto index_path = std::make_shared<std::string>();
    auto queries = std::make_shared<std::vector<std::string>>();
    auto k = std::make_shared<int>(10);
    auto json = std::make_shared<bool>(false);
    add_model_options(cmd, *args, false);
    cmd->add_option("-i,--index", *index_path, "index written by embed-video")->required();
    cmd->add_option("query", *queries, "text queries")->required();
    cmd->add_option("-k,--top-k", *k, "results per query")->capture_default_str();
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->callback([&action, args, index_path, queries, k, json] {
      action = [args, index_path, queries, k, json] {
        auto index = load_video_index(*index_path);
        auto loaded = load_model_from_args(*args);
        TextEmbedder embedder(loaded.model, loaded.tokenizer);
        auto similarity = torch::matmul(embedder.embed(*queries), index.embeddings.t());  // [Q, N]
        nlohmann::json results = nlohmann::json::array();
        for (size_t q = 0; q < queries->size(); ++q) {
          const auto count = std::min<int64_t>(*k, similarity.size(1));
          auto [scores, order] = similarity[static_cast<int64_t>(q)].topk(count);
          nlohmann::json hits = nlohmann::json::array();
          for (int64_t i = 0; i < count; ++i)
            hits.push_back({{"path", index.paths[static_cast<size_t>(order[i].item<int64_t>())]},
                            {"score", scores[i].item<double>()}});
          results.push_back({{"query", (*queries)[q]}, {"results", hits}});
        }
        if (*json) {
          print_json(results);
          return 0;
        }
        for (const auto& r : results) {
          std::cout << r["query"].get<std::string>() << "\n";
          for (const auto& hit : r["results"])
            std::cout << "  " << std::fixed << std::setprecision(4) << hit["score"].get<double>() << "  "
                      << hit["path"].get<std::string>() << "\n";
        }
        return 0;
      };
    });
  }
}

}  // namespace actionclip::cli
