#pragma once
// Three of the reference's config files as sallymmx/ActionCLIP ships them (commit a06b48d),
// byte for byte: comments, trailing spaces and the missing final newline included. Together they
// hold every key its configs use.
#include <string>

namespace actionclip::testing {

// configs/k400/k400_train.yaml
inline const std::string kK400Train = R"yaml(resume:
pretrain:
seed: 1024
data:
    dataset: kinetics400
    modality: RGB
    num_segments: 8
    seg_length: 1
    batch_size: 128
    workers: 16
    num_classes: 400
    image_tmpl: 'img_{:05d}.jpg'
    train_list: 'lists/k4001/train_frames_new.txt'
    val_list: 'lists/k4001/val_frames_re.txt' #
    label_list: 'lists/kinetics_400_labels.csv'
    index_bias: 1
    input_size: 224
    randaug:
        N: 2 #2
        M: 9  #9
    random_shift: True
network:
    arch: ViT-B/32  #ViT-B/32 ViT-B/16
    init: True
    tsm: False
    drop_out: 0.0 
    emb_dropout: 0.0 
    type: clip_k400
    sim_header: "Transf"  #Transf   meanP  LSTM Conv_1D Transf_cls
    joint: False
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
    eval_freq: 1)yaml";

// configs/k400/k400_test.yaml
inline const std::string kK400Test = R"yaml(pretrain: 
seed: 1024
data:
    dataset: kinetics400
    modality: RGB
    num_segments: 8
    seg_length: 1
    split: 1
    batch_size: 64
    workers: 16
    gpus: 4
    num_classes: 400
    image_tmpl: 'img_{:05d}.jpg'
    val_list: 'lists/k4001/val_frames_re.txt' #
    label_list: 'lists/kinetics_400_labels.csv'
    index_bias: 1
    input_size: 224
    random_shift: False
network:
    arch: ViT-B/32  #ViT-B/32 ViT-B/16
    init: True
    tsm: False
    drop_out: 0.0 
    emb_dropout: 0.0 
    bn_momentum: 0.1
    consensus_type: avg
    type: clip_k400
    sim_header: "Transf"   #Transf   meanP  LSTM  Conv_1D  Transf_cls
    joint: False
    describe:
    ratio: 1
    f_ratio: 10
logging:
    print_freq: 10
    eval_freq: 1)yaml";

// configs/ucf101/ucf_zero_shot.yaml
inline const std::string kUcfZeroShot = R"yaml(pretrain: # zero shot need a pretrained model
seed: 1024
data:
    dataset: ucf101
    modality: RGB
    num_segments: 8
    seg_length: 1
    split: 1
    batch_size: 64
    workers: 8
    num_classes: 101
    image_tmpl: 'img_{:05d}.jpg'
    val_list: '/public/home/ock/video_clip/video-clip/lists/ucf101/val_rgb_split1.txt' #
    label_list: 'lists/ucf_labels.csv'
    index_bias: 1
    input_size: 224
    randaug:
        N: 0 #2
        M: 0  #9
network:
    arch: ViT-B/16  #ViT-B/32 ViT-B/16
    init: True
    drop_out: 0.0
    emb_dropout: 0.0 
    type: clip_ucf
    sim_header: "Transf"  #Transf   meanP   LSTM   Transf_cls Conv_1D
    fix_text: False
    fix_img: False
    describe:
logging:
    print_freq: 10
    eval_freq: 1)yaml";

}  // namespace actionclip::testing
