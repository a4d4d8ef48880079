//! Ready models built from `mpc-nn` layers.
#![deny(missing_docs)]
