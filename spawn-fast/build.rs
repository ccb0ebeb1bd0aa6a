//! Builds the tiny static children used by tests and benchmarks (no libc, `cc -static -nostdlib`)
//! and the warm-image preload library (a small shared object).
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    for (src, name) in [
        ("children/exit0.S", "exit0"),
        ("children/first_instruction.c", "first_instruction"),
    ] {
        println!("cargo:rerun-if-changed={src}");
        let dst = out.join(name);
        let status = Command::new(&cc)
            .args([
                "-static",
                "-nostdlib",
                "-O2",
                "-fno-stack-protector",
                "-fno-pie",
                "-no-pie",
            ])
            .arg("-o")
            .arg(&dst)
            .arg(src)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
        assert!(status.success(), "{cc} failed to build {src}");
    }
    // The warm-image preload library (see src/warm/mod.rs), embedded with include_bytes!.
    let src = "src/warm/preload.c";
    println!("cargo:rerun-if-changed={src}");
    let status = Command::new(&cc)
        .args([
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            // Bound at load, in the image: children never run the lazy-binding resolver.
            "-Wl,-z,now",
            "-o",
        ])
        .arg(out.join("libspawn_fast_warm.so"))
        .arg(src)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(status.success(), "{cc} failed to build {src}");
    println!("cargo:rerun-if-env-changed=CC");
}
