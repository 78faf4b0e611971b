//! Memory given back to the system when it is freed: every `pulse` process
//! runs with glibc's mmap threshold fixed at 4 MiB.
//!
//! By default glibc raises that threshold, up to 32 MiB, each time a large
//! block is freed, so training's many column buffers of a few to 32 MiB
//! (one per feature per fit, allocated on rayon's threads) are carved from
//! the threads' heaps instead of mapped on their own, and stay resident
//! after they are freed. At 50,000 accounts `pulse train --no-ablation`
//! peaked at 3,883 MB with glibc's default and at 3,388 MB with the
//! threshold fixed (489.1 s and 462.6 s, the same base and build, one
//! after the other; docs/benchmarks.md).
//!
//! glibc reads the setting from `MALLOC_MMAP_THRESHOLD_` when a process
//! starts, and calling `mallopt` needs `unsafe`, which this workspace
//! forbids; so `main` re-executes the binary with the variable set, once. A
//! value already in the environment is kept. Elsewhere than Linux with
//! glibc nothing happens.

/// glibc's variable.
pub(crate) const VAR: &str = "MALLOC_MMAP_THRESHOLD_";

/// 4 MiB: blocks from this size up are mapped on their own and returned to
/// the system when freed.
pub(crate) const THRESHOLD: &str = "4194304";

/// Replaces this process with the same binary and arguments and [`VAR`] set
/// to [`THRESHOLD`], unless [`VAR`] is set already. Returns only when
/// nothing was done or the exec failed (the binary was replaced on disk,
/// say): the process then goes on with glibc's defaults.
pub(crate) fn reexec_with_fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(VAR).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut cmd = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            cmd.arg0(arg0);
        }
        // `exec` returns only on failure.
        let _failed = cmd.args(args).env(VAR, THRESHOLD).exec();
    }
}
