// The training objective and schedule against the reference, and the few pieces of the
// trainer that must be exact: seeded data order, config compatibility.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/io/safetensors.h"
#include "actionclip/train/contrastive_loss.h"
#include "actionclip/train/lr_schedule.h"
#include "actionclip/train/train_config.h"
#include "actionclip/train/video_dataset.h"
#include "actionclip/util/error.h"
#include "fixtures.h"

using actionclip::testing::fixture;

TEST(TrainingParity, SymmetricKlLossMatchesReference) {
  REQUIRE_FIXTURES();
  auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  auto loss = actionclip::symmetric_kl_loss(expected.at("kl.video_features"), expected.at("kl.text_features"),
                                            expected.at("kl.labels"), expected.at("kl.logit_scale").log().squeeze());
  EXPECT_NEAR(loss.item<double>(), expected.at("kl.loss").item<double>(), 1e-5);
}

TEST(TrainingParity, GroundTruthMarksSharedLabels) {
  auto gt = actionclip::ground_truth_matrix(torch::tensor({3, 1, 3}));
  EXPECT_TRUE(torch::equal(gt, torch::tensor({1.f, 0.f, 1.f, 0.f, 1.f, 0.f, 1.f, 0.f, 1.f}).view({3, 3})));
  auto multi = actionclip::ground_truth_matrix(torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 1.f}).view({3, 2}));
  EXPECT_EQ(multi[0][2].item<float>(), 1.f);
  EXPECT_EQ(multi[0][1].item<float>(), 0.f);
}

TEST(TrainingParity, WarmupCosineScheduleMatchesReference) {
  REQUIRE_FIXTURES();
  auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  const actionclip::WarmupCosineSchedule schedule{10, 2, 0};
  auto epochs = expected.at("lr.epochs");
  auto values = expected.at("lr.values");
  for (int64_t i = 0; i < epochs.size(0); ++i)
    EXPECT_NEAR(5e-6 * schedule.factor(epochs[i].item<double>()), values[i].item<double>(), 1e-12)
        << "at epoch " << epochs[i].item<double>();
}

TEST(TrainingParity, ReferenceConfigKeysAreAccepted) {
  // The shape of the reference's configs/k400/k400_train_rgb_vitb-32-f8.yaml.
  const std::string yaml = R"(
pretrain:
resume:
seed: 1024
data:
    dataset: kinetics400
    modality: RGB
    num_segments: 8
    seg_length: 1
    split: 1
    batch_size: 32
    workers: 8
    gpus: 2
    num_classes: 400
    image_tmpl: 'img_{:05d}.jpg'
    train_list: 'lists/k4001/train_frames_new.txt'
    val_list: lists/k4001/val_frames_new.txt
    label_list: 'lists/kinetics_400_labels.csv'
    index_bias: 1
    input_size: 224
    randaug:
        N: 2
        M: 9
    random_shift: True
network:
    arch: ViT-B/32
    init: True
    pretrained: ViT-B-32.pt
    tsm: False
    drop_out: 0.0
    emb_dropout: 0.0
    type: clip_k400
    sim_header: "Transf"
    describe:
solver:
    type: cosine
    epochs: 50
    start_epoch: 0
    epoch_offset: 0
    optim: adamw
    lr: 5.e-6
    lr_warmup_step: 5
    momentum: 0.9
    weight_decay: 0.2
    lr_decay_step: 15
    lr_decay_factor: 0.1
    clip_gradient: 20
    loss_type: nll
    evaluate: False
    ratio: 1
    f_ratio: 10
logging:
    print_freq: 10
    eval_freq: 1
)";
  auto c = actionclip::TrainConfig::parse(yaml, "", "k400.yaml");
  EXPECT_EQ(c.seed, 1024u);
  EXPECT_EQ(c.data.num_segments, 8);
  EXPECT_EQ(c.data.batch_size, 32);
  EXPECT_EQ(c.data.augment.randaug.N, 2);
  EXPECT_EQ(c.data.augment.randaug.M, 9);
  EXPECT_EQ(c.network.sim_header, "Transf");
  EXPECT_DOUBLE_EQ(c.solver.lr, 5e-6);
  EXPECT_DOUBLE_EQ(c.solver.f_ratio, 10);
  EXPECT_DOUBLE_EQ(c.solver.weight_decay, 0.2);
  EXPECT_EQ(c.solver.epochs, 50);
}

TEST(TrainingParity, UnknownConfigKeyIsReportedWithItsSection) {
  const std::string yaml = "data:\n  train_list: a\n  label_list: b\n  batch_sise: 4\nnetwork:\n  init: false\n";
  try {
    actionclip::TrainConfig::parse(yaml, "", "typo.yaml");
    FAIL() << "a misspelt key was accepted";
  } catch (const actionclip::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("typo.yaml"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("data.batch_sise"), std::string::npos);
  }
}

TEST(TrainingParity, BatchOrderIsASeededPermutationPerEpoch) {
  std::vector<actionclip::data::VideoRecord> records(10);
  for (size_t i = 0; i < records.size(); ++i) records[i] = {"v" + std::to_string(i), 8, {static_cast<int64_t>(i % 2)}};
  actionclip::DataConfig data;
  data.batch_size = 3;
  actionclip::VideoDataset dataset(records, data, 2, 32);
  EXPECT_EQ(dataset.batches_per_epoch(), 3u);
  std::set<size_t> seen;
  for (size_t b = 0; b < 3; ++b)
    for (auto r : dataset.batch_records(7, 0, b)) seen.insert(r);
  EXPECT_EQ(seen.size(), 9u);  // no repeats; one record dropped with the incomplete batch
  EXPECT_EQ(dataset.batch_records(7, 0, 1), dataset.batch_records(7, 0, 1));
  EXPECT_NE(dataset.batch_records(7, 0, 0), dataset.batch_records(7, 1, 0));
  EXPECT_NE(dataset.batch_records(7, 0, 0), dataset.batch_records(8, 0, 0));
}
