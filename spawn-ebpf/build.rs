use which::which;

/// Rebuild the probes when bpf-linker changes (for instance after `cargo xtask setup` rebuilt it
/// against another LLVM): cargo does not otherwise see the linker as an input.
fn main() {
    if let Ok(path) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
