//! The ONNX protobuf messages (generated at build time from `proto/onnx-ml.proto`), and
//! typed access to node attributes and constant tensors with the checks a hostile file
//! needs: declared sizes must match the data actually present.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
