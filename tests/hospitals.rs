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
