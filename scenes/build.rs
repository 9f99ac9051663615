//! Lets the scenes' tests, which run the edge's pipeline on the true boxes (`true_boxes`), find
//! libLiteRt.so where the edge links it from: the edge's own build script passes the rpath to its
//! own targets only.
fn main() {
    println!("cargo:rerun-if-env-changed=LITERT_LIB_DIR");
    if let Ok(dir) = std::env::var("LITERT_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
