//! Private inference: only the client learns the predictions; they match the plaintext model;
//! a model from a safetensors file works; bad calls are named errors.
#![allow(clippy::unwrap_used)]
use ndarray::{ArrayD, IxDyn};
use trefoil::core::Party;
use trefoil::inference::{
    InferenceDemoConfig, Output, digits_demo, input_private_model, plain_classes, private_predict,
};
use trefoil::models::{MlpConfig, mlp};
use trefoil::nn::io::{export_safetensors, import_safetensors, plain_params};
use trefoil::nn::{Backend, Plain};

#[test]
fn digits_demo_answers_only_the_client_and_matches_the_plaintext_model() {
    for (owner, client) in [(0, 1), (2, 0)] {
        let r = digits_demo(&InferenceDemoConfig {
            batch: 48,
            owner,
            client,
            ..Default::default()
        })
        .unwrap();
        // fixed-point error of the forward (16 bits) is ~1e-3 on the logits: a flip needs two
        // logits that close; allow one such query in 48
        assert!(r.agreement >= 47.0 / 48.0, "{r}");
        assert!(r.accuracy >= 0.9, "{r}");
        assert_eq!(r.predictions.len(), 48);
        assert_eq!(r.opened_to_others, 0);
        assert_eq!(r.single.queries, 1);
        assert!(r.single.bytes.iter().all(|&b| b > 0) && r.single.rounds > 0);
        assert_eq!(
            r.single.rounds, r.batched.rounds,
            "a batch costs the rounds of one query"
        );
        assert!(r.batched.bytes_per_query() < r.single.bytes_per_query());
        assert!(r.to_string().contains("bytes per query"));
    }
}

fn weights_and_queries() -> (trefoil::nn::io::NamedTensors, ArrayD<f64>, ArrayD<f64>) {
    let mut b = Plain::new();
    let mut m = mlp(&mut b, &MlpConfig::new(6, &[5], 3)).unwrap();
    let q = ArrayD::from_shape_fn(IxDyn(&[4, 6]), |i| {
        ((i[0] * 7 + i[1] * 3) % 5) as f64 / 2.0 - 1.0
    });
    let logits = trefoil::nn::train::predict(&mut b, &mut m, &q, 4).unwrap();
    let _ = b.engine();
    (plain_params(&m), q, logits)
}

#[test]
fn logits_from_a_safetensors_model_match_and_reach_only_the_client() {
    let (w, q, want) = weights_and_queries();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    export_safetensors(&path, &w).unwrap();
    let outs = trefoil::nn::run_3pc(|p: &mut Party| {
        let mut model = mlp(p, &MlpConfig::new(6, &[5], 3))?;
        let weights = (p.role() == 2)
            .then(|| import_safetensors(&path))
            .transpose()?;
        input_private_model(p, 2, &mut model, weights.as_ref())?;
        let data = (p.role() == 1).then_some(&q);
        let logits = private_predict(p, &mut model, 1, data, &[4, 6], Output::Logits)?;
        let class = private_predict(p, &mut model, 1, data, &[4, 6], Output::Class)?;
        Ok((logits, class))
    })
    .unwrap();
    assert!(
        outs[0].0.is_none() && outs[2].0.is_none() && outs[0].1.is_none() && outs[2].1.is_none()
    );
    let got = outs[1].0.as_ref().unwrap();
    let err = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-2, "max logit error {err}");
    let mut b = Plain::new();
    let mut m = mlp(&mut b, &MlpConfig::new(6, &[5], 3)).unwrap();
    trefoil::nn::io::load_into(&mut b, &mut m, &w, false).unwrap();
    let classes: Vec<usize> = outs[1]
        .1
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.round() as usize)
        .collect();
    assert_eq!(classes, plain_classes(&mut m, &q).unwrap());
}

#[test]
fn bad_calls_are_named_errors() {
    let e = digits_demo(&InferenceDemoConfig {
        owner: 1,
        client: 1,
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("owner 1 and client 1"), "{e}");
    let (w, q, _) = weights_and_queries();
    let outs = trefoil::nn::run_3pc(|p: &mut Party| {
        let mut model = mlp(p, &MlpConfig::new(6, &[5], 3))?;
        input_private_model(p, 0, &mut model, (p.role() == 0).then_some(&w))?;
        // every party checks its own arguments before anything is sent: here the client
        // announces a wrong shape and the others pass queries they do not own, so all three
        // fail locally and nothing is left half-sent
        let data = Some(&q);
        let shape: &[usize] = if p.role() == 1 { &[5, 6] } else { &[4, 6] };
        let first = private_predict(p, &mut model, 1, data, shape, Output::Class);
        let bad_role = private_predict(p, &mut model, 3, None, &[4, 6], Output::Class);
        Ok((
            first.err().map(|e| e.to_string()),
            bad_role.err().map(|e| e.to_string()),
        ))
    })
    .unwrap();
    assert!(
        outs[1].0.as_ref().unwrap().contains("[4, 6] but [5, 6]"),
        "{:?}",
        outs[1].0
    );
    assert!(
        outs[0]
            .0
            .as_ref()
            .unwrap()
            .contains("party 0 passed queries, but the client is party 1"),
        "{:?}",
        outs[0].0
    );
    assert!(
        outs[2]
            .1
            .as_ref()
            .unwrap()
            .contains("client 3 is not a party")
    );
}
