//! Compiles the vendored `proto/onnx-ml.proto` (the ONNX schema with the ML types) into
//! prost types. protox parses it in Rust, so no `protoc` is needed to build ferry.

fn main() {
    let proto = "proto/onnx-ml.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"]).expect("proto/onnx-ml.proto compiles");
    prost_build::Config::new()
        .compile_fds(descriptors)
        .expect("prost code generation for onnx-ml.proto");
}
