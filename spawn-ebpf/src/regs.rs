//! Syscall arguments and results at fentry/fexit on the syscall functions (`__x64_sys_*`).
//! Those functions take the caller's `const struct pt_regs *` and nothing else, so fentry
//! sees the arguments exactly as the syscall tracepoints do (the full registers), and fexit
//! sees the result as its second context word. These programs run only for the syscall they
//! attach to: unlike an enabled syscall tracepoint, they put no other task on a slow path.
use aya_ebpf::{
    Argument, EbpfContext,
    bindings::pt_regs,
    helpers::bpf_probe_read_kernel,
    programs::{FEntryContext, FExitContext},
};

/// The registers of the syscall's first six arguments (x86_64 syscall convention).
#[derive(Clone, Copy)]
pub enum Reg {
    Di,
    Si,
    Dx,
    R8,
}

/// Argument `reg` of the syscall whose wrapper the program is attached to.
#[inline(always)]
pub fn arg<C: Ctx>(ctx: &C, reg: Reg) -> u64 {
    let regs: *const pt_regs = ctx.word(0);
    // SAFETY: only the address is computed here; the read goes through the checked helper.
    let field = unsafe {
        match reg {
            Reg::Di => core::ptr::addr_of!((*regs).rdi),
            Reg::Si => core::ptr::addr_of!((*regs).rsi),
            Reg::Dx => core::ptr::addr_of!((*regs).rdx),
            Reg::R8 => core::ptr::addr_of!((*regs).r8),
        }
    };
    // SAFETY: checked kernel read; a bad address is an error, not a fault.
    unsafe { bpf_probe_read_kernel(field) }.unwrap_or(0)
}

/// The syscall's return value, at fexit (the word after the wrapper's one argument; read
/// from the context rather than with `bpf_get_func_ret`, which needs Linux 5.17).
#[inline(always)]
pub fn ret(ctx: &FExitContext) -> i64 {
    ctx.word::<i64>(1)
}

/// fentry and fexit contexts: an array of u64 words (the arguments, then fexit's result).
pub trait Ctx: EbpfContext {
    fn word<T: Argument>(&self, n: usize) -> T;
}

impl Ctx for FEntryContext {
    fn word<T: Argument>(&self, n: usize) -> T {
        self.arg(n)
    }
}

impl Ctx for FExitContext {
    fn word<T: Argument>(&self, n: usize) -> T {
        self.arg(n)
    }
}
