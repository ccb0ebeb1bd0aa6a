//! Kernel struct offsets from the kernel's own BTF, for the probes' one struct walk (the path
//! behind an exec'd fd, see `spawn-ebpf/src/fdpath.rs`). aya's Rust probes have no CO-RE
//! relocations, so the offsets are looked up here and handed over as a global, like the
//! tracepoint offsets from tracefs.
use std::path::Path;

use btf_rs::{Btf, BtfType, Type};
use spawn_common::KernelOffsets;

#[derive(Debug, thiserror::Error)]
pub enum KernelBtfError {
    #[error("reading BTF from {0}: {1}")]
    Read(String, btf_rs::Error),
    #[error("BTF has no struct {0}")]
    NoStruct(String),
    #[error("BTF struct {0} has no field {1}")]
    NoField(String, String),
    #[error("BTF lookup of {0}: {1}")]
    Lookup(String, btf_rs::Error),
}

/// The offsets the fd-path walk needs, from a BTF file (normally `/sys/kernel/btf/vmlinux`).
pub fn kernel_offsets(vmlinux: &Path) -> Result<KernelOffsets, KernelBtfError> {
    let btf = Btf::from_file(vmlinux)
        .map_err(|e| KernelBtfError::Read(vmlinux.display().to_string(), e))?;
    let off = |s: &str, f: &str| field_offset(&btf, s, f);
    Ok(KernelOffsets {
        task_files: off("task_struct", "files")?,
        files_fdt: off("files_struct", "fdt")?,
        fdt_max_fds: off("fdtable", "max_fds")?,
        fdt_fd: off("fdtable", "fd")?,
        file_dentry: off("file", "f_path")? + off("path", "dentry")?,
        file_vfsmount: off("file", "f_path")? + off("path", "mnt")?,
        dentry_parent: off("dentry", "d_parent")?,
        dentry_name: off("dentry", "d_name")? + off("qstr", "name")?,
        vfsmount_root: off("vfsmount", "mnt_root")?,
        mount_vfsmount: off("mount", "mnt")?,
        mount_parent: off("mount", "mnt_parent")?,
        mount_mountpoint: off("mount", "mnt_mountpoint")?,
    })
}

/// The offsets of the pid-namespace read (`task->thread_pid->numbers[level]`, see
/// `spawn-ebpf/src/ident.rs`).
pub fn pidns_offsets(vmlinux: &Path) -> Result<spawn_common::PidNsOffsets, KernelBtfError> {
    let btf = Btf::from_file(vmlinux)
        .map_err(|e| KernelBtfError::Read(vmlinux.display().to_string(), e))?;
    let off = |s: &str, f: &str| field_offset(&btf, s, f);
    Ok(spawn_common::PidNsOffsets {
        task_thread_pid: off("task_struct", "thread_pid")?,
        pid_level: off("pid", "level")?,
        pid_numbers: off("pid", "numbers")?,
        upid_size: struct_size(&btf, "upid")?,
        upid_nr: off("upid", "nr")?,
        upid_ns: off("upid", "ns")?,
        pidns_inum: off("pid_namespace", "ns")? + off("ns_common", "inum")?,
        _pad: 0,
    })
}

/// `sizeof(struct name)`.
pub fn struct_size(btf: &Btf, name: &str) -> Result<u32, KernelBtfError> {
    let types = btf
        .resolve_types_by_name(name)
        .map_err(|e| KernelBtfError::Lookup(format!("struct {name}"), e))?;
    types
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) => Some(s.size() as u32),
            _ => None,
        })
        .ok_or_else(|| KernelBtfError::NoStruct(name.into()))
}

/// Byte offset of `field` in `struct name`, looking inside anonymous structs and unions.
pub fn field_offset(btf: &Btf, name: &str, field: &str) -> Result<u32, KernelBtfError> {
    let lookup = |e| KernelBtfError::Lookup(format!("struct {name}"), e);
    let types = btf.resolve_types_by_name(name).map_err(lookup)?;
    let mut found_struct = false;
    for t in types {
        if let Type::Struct(s) = t {
            found_struct = true;
            if let Some(bits) = find_member(btf, &s, field)? {
                return Ok(bits / 8);
            }
        }
    }
    if !found_struct {
        return Err(KernelBtfError::NoStruct(name.into()));
    }
    Err(KernelBtfError::NoField(name.into(), field.into()))
}

/// Bit offset of `field` among `s`'s members, descending into anonymous members.
fn find_member(btf: &Btf, s: &btf_rs::Struct, field: &str) -> Result<Option<u32>, KernelBtfError> {
    let lookup = |e| KernelBtfError::Lookup(field.into(), e);
    for m in &s.members {
        let name = if m.get_name_offset().is_some_and(|o| o != 0) {
            btf.resolve_name(m).map_err(lookup)?
        } else {
            String::new()
        };
        if name == field {
            return Ok(Some(m.bit_offset()));
        }
        if name.is_empty() {
            let inner = match btf.resolve_chained_type(m).map_err(lookup)? {
                Type::Struct(inner) | Type::Union(inner) => inner,
                _ => continue,
            };
            if let Some(bits) = find_member(btf, &inner, field)? {
                return Ok(Some(m.bit_offset() + bits));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

    /// Against this machine's kernel: offsets that must hold on any x86_64 kernel, and a
    /// field that lives inside an anonymous union.
    #[test]
    fn offsets_from_the_running_kernel() {
        if !Path::new(VMLINUX).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI: {VMLINUX} is missing (no kernel BTF)"
            );
            eprintln!("skipped: {VMLINUX} is missing (no kernel BTF)");
            return;
        }
        let btf = Btf::from_file(VMLINUX).unwrap();
        // struct path { struct vfsmount *mnt; struct dentry *dentry; }
        assert_eq!(field_offset(&btf, "path", "mnt").unwrap(), 0);
        assert_eq!(field_offset(&btf, "path", "dentry").unwrap(), 8);
        // struct qstr { union { struct { u32 hash; u32 len; }; u64 hash_len; }; name }:
        // `len` sits in an anonymous struct inside an anonymous union.
        assert_eq!(field_offset(&btf, "qstr", "len").unwrap(), 4);
        assert_eq!(field_offset(&btf, "qstr", "name").unwrap(), 8);
        // struct upid { int nr; struct pid_namespace *ns; }: 16 bytes on x86_64.
        let ns = pidns_offsets(Path::new(VMLINUX)).unwrap();
        assert_eq!((ns.upid_nr, ns.upid_ns, ns.upid_size), (0, 8, 16), "{ns:?}");
        assert!(
            ns.task_thread_pid > 0 && ns.pid_numbers > ns.pid_level,
            "{ns:?}"
        );
        let k = kernel_offsets(Path::new(VMLINUX)).unwrap();
        assert!(k.task_files > 0 && k.mount_vfsmount > 0, "{k:?}");
        assert!(matches!(
            field_offset(&btf, "path", "nope"),
            Err(KernelBtfError::NoField(..))
        ));
        assert!(matches!(
            field_offset(&btf, "no_such_struct_xyz", "x"),
            Err(KernelBtfError::NoStruct(..)) | Err(KernelBtfError::Lookup(..))
        ));
    }
}
