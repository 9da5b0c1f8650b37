// actionclip models: the released CLIP models by name, where each is cached, and fetching them.
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "actionclip/download/model_download.h"
#include "actionclip/download/sha256.h"
#include "actionclip/download/transfer_progress.h"
#include "actionclip/util/error.h"
#include "commands.h"
#include "common.h"

namespace actionclip::cli {
namespace {

namespace fs = std::filesystem;

struct ModelsArgs {
  bool json = false;
  bool verify = false;
  std::vector<std::string> download;
};

const ReleasedModel& released_model_named(const std::string& name) {
  if (const auto* model = find_released_model_by_name(name)) return *model;
  std::string names;
  for (const auto& model : released_models()) names += (names.empty() ? "" : ", ") + model.name;
  throw Error("'" + name + "' is no released CLIP model (" + names + ", or 'all')");
}

int download(const std::vector<std::string>& names, bool json) {
  std::vector<const ReleasedModel*> wanted;
  for (const auto& name : names) {
    if (name == "all")
      for (const auto& model : released_models()) wanted.push_back(&model);
    else
      wanted.push_back(&released_model_named(name));
  }
  nlohmann::json fetched = nlohmann::json::array();
  for (const auto* model : wanted) {
    auto path = find_cached_model(*model);
    const bool was_cached = path.has_value();
    if (!path) path = download_released_model(*model);
    fetched.push_back({{"name", model->name}, {"path", *path}, {"downloaded", !was_cached}});
    if (!json) std::cout << model->name << (was_cached ? " is cached at " : " downloaded to ") << *path << "\n";
  }
  if (json) print_json(fetched);
  return 0;
}

int list(bool json, bool verify) {
  nlohmann::json models = nlohmann::json::array();
  bool mismatch = false;
  for (const auto& model : released_models()) {
    const auto cached = find_cached_model(model);
    nlohmann::json entry = {{"name", model.name},
                            {"file", model.file_name},
                            {"cached", cached.has_value()},
                            {"path", cached.value_or(released_model_cache_path(model))},
                            {"size_bytes", nullptr},
                            {"url", released_model_url(model)},
                            {"sha256", model.sha256}};
    if (cached) entry["size_bytes"] = fs::file_size(*cached);
    if (cached && verify) {
      entry["sha256_matches"] = sha256_file(*cached) == model.sha256;
      mismatch |= !entry["sha256_matches"].get<bool>();
    }
    models.push_back(entry);
  }
  if (json) {
    print_json({{"cache_dir", model_cache_dir()}, {"models", models}});
    return mismatch ? 2 : 0;
  }
  std::cout << std::left << std::setw(16) << "name" << std::setw(8) << "cached" << std::setw(11) << "size"
            << (verify ? "sha256    " : "") << "path\n";
  for (const auto& entry : models) {
    const bool cached = entry["cached"].get<bool>();
    std::cout << std::setw(16) << entry["name"].get<std::string>() << std::setw(8) << (cached ? "yes" : "no")
              << std::setw(11) << (cached ? format_bytes(entry["size_bytes"].get<uint64_t>()) : "-");
    if (verify) std::cout << std::setw(10) << (!cached ? "-" : entry["sha256_matches"].get<bool>() ? "ok" : "MISMATCH");
    std::cout << entry["path"].get<std::string>() << "\n";
  }
  const auto first_url = released_model_url(released_models().front());
  std::cout << "\nA name given as --model (or network.arch) that is not cached is downloaded to " << model_cache_dir()
            << "\nfrom " << first_url.substr(0, first_url.find("/clip/models/"))
            << "/clip/models/<sha256>/<file> and checked against that SHA-256 (--json lists each URL).\n";
  if (mismatch)
    std::cout << "A MISMATCH file is not OpenAI's release: remove it, and the next use downloads the real one.\n";
  return mismatch ? 2 : 0;
}

}  // namespace

void add_models_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("models", "List OpenAI's CLIP models by name: cached or not, size, path; download them");
  auto args = std::make_shared<ModelsArgs>();
  cmd->add_flag("--json", args->json, "machine-readable output (with each model's URL and SHA-256)");
  cmd->add_flag("--verify", args->verify, "check each cached file against its published SHA-256 (exit code 2 on a mismatch)");
  cmd->add_option("--download", args->download, "download these models (names, or 'all') into the cache now");
  cmd->callback([&action, args] {
    action = [args] { return args->download.empty() ? list(args->json, args->verify) : download(args->download, args->json); };
  });
}

}  // namespace actionclip::cli
