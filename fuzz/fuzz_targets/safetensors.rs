//! Plaintext weight import (mpc-nn's `io::import_safetensors`, then `from_pytorch`,
//! `match_to_model` and `load_into`): arbitrary bytes as a `.safetensors` file of a PyTorch
//! model. Import is `Ok` or a typed `Params` error naming the file; imported tensors are then
//! matched onto the demo MLP (PyTorch `nn.Sequential` names) and the digits CNN (the model's own
//! names), which must also be `Ok` or typed errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trefoil::models::{MlpConfig, digits_cnn, mlp};
use trefoil::nn::io::{NameMap, from_pytorch, import_safetensors, load_into, match_to_model};
use trefoil::nn::{NnError, Plain};
use trefoil_fuzz::scratch_file;

fn typed(e: &NnError) {
    assert!(
        matches!(
            e,
            NnError::Params(_) | NnError::Shape { .. } | NnError::Core(_)
        ),
        "not a typed import error: {e:?}"
    );
}

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let path = scratch_file("weights.safetensors", data);
    let tensors = match import_safetensors(&path) {
        Ok(t) => t,
        Err(e) => {
            typed(&e);
            return;
        }
    };
    for (_, t) in &tensors {
        assert_eq!(t.len(), t.shape().iter().product::<usize>());
    }
    let mut b = Plain::new();
    let models = [
        (
            mlp(&mut b, &MlpConfig::new(64, &[32, 16], 10)),
            NameMap::SequentialIndex,
        ),
        (digits_cnn(&mut b, 0), NameMap::Same),
    ];
    for (m, names) in models {
        let mut m = m.unwrap_or_else(|e| panic!("cannot build the model: {e}"));
        match from_pytorch(&m, &tensors, names) {
            Ok(w) => {
                if let Err(e) = load_into(&mut b, &mut m, &w, false) {
                    typed(&e);
                }
            }
            Err(e) => typed(&e),
        }
        if let Err(e) = match_to_model(&m, &tensors, false) {
            typed(&e);
        }
    }
});
