//! Writes the seed corpora under `fuzz/seeds/<target>/` from real encoders of the project
//! (frames, control messages, CSV, IDX, share files) and the repository's PyTorch fixtures.
//! Run once from `fuzz/`: `cargo run --release --example make_seeds`; the output is committed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use trefoil::core::{AShare, HarnessConfig, run_parties};
use trefoil::models::{MlpConfig, mlp};
use trefoil::net::Message;
use trefoil::net::codec::{Control, Hello, SessionSettings, encode};
use trefoil::net::frame::{KIND_CONTROL, check_len, encode_header, write_control, write_data};
use trefoil::nn::data::{breast_cancer, write_csv, write_idx};
use trefoil::nn::io::{export_safetensors, save_shares};
use trefoil::nn::{Module, NnError};
use trefoil_fuzz::ready;

fn dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn put(target: &str, name: &str, bytes: &[u8]) {
    std::fs::write(dir(target).join(name), bytes).unwrap();
}

fn frames() {
    let hello = encode(&Control::Hello(Hello::new(
        1,
        "fuzz-session",
        SessionSettings::new(16),
    )))
    .unwrap();
    let abort = encode(&Control::Abort {
        reason: "party 2 gave up: timeout".into(),
    })
    .unwrap();
    put("control", "hello", &hello);
    put("control", "abort", &abort);
    put(
        "control",
        "hello-other-session",
        &encode(&Control::Hello(Hello::new(
            0,
            "s",
            SessionSettings::new(12),
        )))
        .unwrap(),
    );

    let link = trefoil::net::Link::Party(1);
    let mut stream = Vec::new();
    ready(write_control(&mut stream, &hello)).unwrap();
    put("frame", "hello", &stream);
    let msg = Message {
        depth: 3,
        words: vec![1, u64::MAX, 0x0123_4567_89ab_cdef],
    };
    let len = check_len(&link, 8 * msg.words.len() as u64, 1 << 20).unwrap();
    ready(write_data(&mut stream, &msg, len, &mut Vec::new())).unwrap();
    ready(write_control(&mut stream, &abort)).unwrap();
    put("frame", "hello-data-abort", &stream);
    put("frame", "truncated", &stream[..stream.len() - 5]);
    put("frame", "empty-control", &encode_header(KIND_CONTROL, 0, 0));
}

fn configs() {
    put(
        "party_config",
        "tls.toml",
        br#"role = 0
addresses = ["10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"]
session_id = "demo-2025-01"
frac_bits = 16
listen = "0.0.0.0:7000"
connect_timeout_ms = 30000
recv_timeout_ms = 60000
max_frame_bytes = 268435456
linger_ms = 1000

[tls]
ca = "certs/ca.pem"
cert = "certs/party0.pem"
key = "certs/party0.key"
"#,
    );
    put(
        "party_config",
        "insecure.toml",
        br#"role = 2
addresses = ["127.0.0.1:7000", "127.0.0.1:7001", "[::1]:7002"]
session_id = "s"
frac_bits = 20
insecure = true
"#,
    );
}

fn jobs() {
    put(
        "job_toml",
        "train.toml",
        br#"id = "cancer-2026-12"
kind = "train"
frac_bits = 16

[model]
name = "mlp"
hidden = [16]
activation = "relu"

[data]
label = "diagnosis"
classes = ["0", "1"]
features = ["mean radius", "mean texture"]
standardize = true

[[data.sources]]
party = 0
csv = "hospital0.csv"

[[data.sources]]
party = 1
csv = "hospital1.csv"

[train]
epochs = 10
batch_size = 32
lr = 0.1
momentum = 0.9
weight_decay = 0.0
seed = 42
test_fraction = 0.2

[output]
model_to = 0
model_path = "model.safetensors"
shares_path = "shares-{role}.safetensors"
"#,
    );
    put(
        "job_toml",
        "infer.toml",
        br#"id = "cancer-infer"
kind = "infer"

[model]
name = "logistic_regression"

[data]
label = "diagnosis"
classes = ["0", "1"]

[infer]
weights = { party = 0, path = "model.safetensors" }
queries = { party = 1, csv = "queries.csv" }
predictions_to = 1
predictions_path = "predictions.csv"
"#,
    );
    put(
        "job_toml",
        "intake.toml",
        br#"id = "owners"
kind = "train"

[model]
name = "softmax_regression"

[data]
label = "y"
classes = ["a", "b", "c"]
owners = [0, 1]

[intake]
addresses = ["10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"]
timeout_ms = 60000

[output]
model_to = 2
model_path = "m.safetensors"
"#,
    );
}

fn csvs() {
    let ds = breast_cancer().unwrap();
    let rows: Vec<usize> = (0..6).collect();
    let small = ds
        .subset(&rows)
        .unwrap()
        .select_columns(&[0, 1, 2])
        .unwrap();
    let tmp = std::env::temp_dir().join("trefoil-seed.csv");
    write_csv(&tmp, &small, "label").unwrap();
    put(
        "csv",
        "breast-cancer-6x3.csv",
        &std::fs::read(&tmp).unwrap(),
    );
    put(
        "csv",
        "quoted.csv",
        b"\xef\xbb\xbf\"id, with comma\",label,\"x \"\"quoted\"\"\"\r\n1,cat,0.5\r\n2,dog,-1e3\r\n3,\"cat\",7\r\n",
    );
    put("csv", "label-first.csv", b"label,a,b\nyes,1,2\nno,3,4\n");
}

fn idx() {
    let tmp = std::env::temp_dir();
    let images: Vec<u8> = (0..3 * 4 * 4).map(|i| (i * 17 % 256) as u8).collect();
    let labels = [0u8, 7, 9];
    let read = |name: &str, dims: &[usize], data: &[u8], gz: bool| {
        let p = tmp.join(name);
        write_idx(&p, dims, data, gz).unwrap();
        std::fs::read(&p).unwrap()
    };
    for gz in [false, true] {
        let im = read("seed-images.idx", &[3, 4, 4], &images, gz);
        let lb = read("seed-labels.idx", &[3], &labels, gz);
        let tag = if gz { "gz" } else { "plain" };
        // mode 0: one file as it is (a gzip file is detected by its magic)
        let mut one = vec![0u8];
        one.extend_from_slice(&im);
        put("idx", &format!("images-{tag}"), &one);
        // mode 2: images and labels as a dataset
        let mut two = vec![2u8];
        two.extend_from_slice(&(im.len() as u16).to_le_bytes());
        two.extend_from_slice(&im);
        two.extend_from_slice(&lb);
        put("idx", &format!("dataset-{tag}"), &two);
    }
    // mode 1: the plain file, gzipped by the target
    let mut m1 = vec![1u8];
    m1.extend_from_slice(&read("seed-labels.idx", &[3], &labels, false));
    put("idx", "labels-gzip-mode", &m1);
}

fn safetensors() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/torch");
    for f in [
        "mlp.safetensors",
        "mlp_f16.safetensors",
        "mlp_bf16.safetensors",
        "cnn.safetensors",
    ] {
        put("safetensors", f, &std::fs::read(fixtures.join(f)).unwrap());
    }
    let p = std::env::temp_dir().join("seed-export.safetensors");
    let w = ndarray::ArrayD::from_shape_vec(
        ndarray::IxDyn(&[2, 3]),
        vec![0.5, -1.0, 2.0, 0.0, 1e-3, 3.25],
    )
    .unwrap();
    export_safetensors(&p, &[("0.weight".into(), w)]).unwrap();
    put(
        "safetensors",
        "export-2x3.safetensors",
        &std::fs::read(&p).unwrap(),
    );
}

fn shares() {
    let tmp = std::env::temp_dir();
    run_parties(&HarnessConfig::default(), |p| -> Result<(), NnError> {
        let m = mlp(p, &MlpConfig::new(4, &[3], 2))?;
        if p.role() == 0 {
            save_shares(&tmp.join("seed-params.shares"), 0, "fuzz-job", &m, &[])?;
            let momentum: Vec<(String, AShare)> = m
                .params()
                .iter()
                .map(|q| (format!("momentum.{}", q.name), q.value.clone()))
                .collect();
            let extra: Vec<(String, &AShare)> =
                momentum.iter().map(|(n, t)| (n.clone(), t)).collect();
            save_shares(&tmp.join("seed-extra.shares"), 0, "fuzz-job", &m, &extra)?;
        }
        Ok(())
    })
    .unwrap();
    put(
        "shares",
        "params",
        &std::fs::read(tmp.join("seed-params.shares")).unwrap(),
    );
    put(
        "shares",
        "params-and-momentum",
        &std::fs::read(tmp.join("seed-extra.shares")).unwrap(),
    );
}

fn main() {
    frames();
    configs();
    jobs();
    csvs();
    idx();
    safetensors();
    shares();
    println!("seeds written under {}/seeds", env!("CARGO_MANIFEST_DIR"));
}
