//! Lets the edge's binaries find libLiteRt.so where it was linked from (litert-sys passes the
//! rpath only to its own link step; a direct dependent receives DEP_LITERT_LIB_DIR), and where
//! the Debian package installs it (`/usr/lib/baycount`, beside `/usr/bin`).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_LITERT_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_LITERT_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/baycount");
    }
}
