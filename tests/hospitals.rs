//! The main demo (`cargo run --release`): accuracy next to the twin, the model revealed to the
//! owner only, both partitions; and the command line's errors.
#![allow(clippy::unwrap_used)]
use trefoil::hospitals::{DemoConfig, Split, run};

#[test]
fn hospitals_demo_trains_both_models_and_reveals_only_to_the_owner() {
    for split in [Split::Horizontal, Split::Vertical] {
        let cfg = DemoConfig {
            split,
            model_owner: 1,
            ..DemoConfig::default()
        };
        let r = run(&cfg).unwrap();
        assert_eq!(
            r.holdings.iter().sum::<usize>(),
            if split == Split::Horizontal { 456 } else { 30 }
        );
        for m in &r.models {
            assert!(
                m.secure_accuracy >= 0.95,
                "{split:?} {}: {}",
                m.name,
                m.secure_accuracy
            );
            assert!(
                (m.secure_accuracy - m.plain_accuracy).abs() <= 0.0176,
                "{split:?} {}: {} vs {}",
                m.name,
                m.secure_accuracy,
                m.plain_accuracy
            );
            assert!(m.owner_params >= 2, "{m:?}");
            assert!(m.bytes.iter().all(|&b| b > 0) && m.rounds > 0);
        }
        let text = r.to_string();
        assert!(text.contains("hospital 1 received"), "{text}");
    }
}

#[test]
fn demo_writes_curves_plots_and_only_the_owners_models() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DemoConfig {
        epochs: 3,
        model_owner: 2,
        out_dir: Some(dir.path().to_path_buf()),
        ..DemoConfig::default()
    };
    let r = run(&cfg).unwrap();
    for m in &r.models {
        assert_eq!(m.secure_curve.len(), 3, "{}", m.name);
        assert_eq!(m.plain_curve.len(), 3, "{}", m.name);
        assert_eq!(m.secure_curve[2].accuracy, m.secure_accuracy);
        for (s, t) in m.secure_curve.iter().zip(&m.plain_curve) {
            assert!((s.loss - t.loss).abs() < 0.02, "{}: {s:?} vs {t:?}", m.name);
        }
        assert!(!m.layer_costs.is_empty());
        let file = m.model_file.as_ref().unwrap();
        assert!(
            file.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("hospital2-")
        );
        let params = trefoil::nn::io::import_safetensors(file).unwrap();
        assert_eq!(params.len(), m.owner_params);
    }
    for name in ["training.svg", "training.png", "costs.svg", "costs.png"] {
        let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
        assert!(len > 2_000, "{name}: {len} bytes");
    }
    let svg = std::fs::read_to_string(dir.path().join("training.svg")).unwrap();
    assert!(svg.contains("MLP 30-16-1 (twin)"));
    let others: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors") && !n.starts_with("hospital2-"))
        .collect();
    assert!(others.is_empty(), "{others:?}");
    assert_eq!(r.files.len(), 6);
}

#[test]
fn demo_rejects_a_bad_owner_and_bad_flags() {
    let e = run(&DemoConfig {
        model_owner: 3,
        ..DemoConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("model owner 3"), "{e}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trefoil"))
        .args(["demo", "--epochs", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid value 'x' for '--epochs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trefoil"))
        .args(["demo", "--bogus"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--bogus'"));
}
