//! Keeping the SQLite writer's two threads on one CPU.
//!
//! A write transaction alternates between the writer lane's thread (our code) and sqlx's worker
//! thread for the writer connection (SQLite), handing over at every statement and every result.
//! When the two run on different CPUs, each hand-over wakes the other CPU with an interrupt and
//! the kernel's switch costs more than the statement; on one CPU the waker simply yields to the
//! woken thread. Measured on two cores (`huiyuan-bench orders`, BENCHMARKS.md): about a quarter
//! more orders per second with the pair on one CPU, and fewer with them on two fixed ones.
//!
//! On one CPU a second cost shows: sqlx sends a statement's results one message at a time, and
//! each message woke the lane, which preempted the worker to take it — about seven switches per
//! order on each thread. The lane runs as a batch thread (`SCHED_BATCH`: never preempts on
//! wake-up), so the worker finishes the statement and the lane takes all its results at once:
//! a third of the switches, and about an eighth more orders per second.
//!
//! Opt-in (setting `sqlite_pin_writer`, off by default): a thread fixed to one CPU surprises a
//! host that limits or reserves CPUs. Linux only; elsewhere, and when the process may use a single
//! CPU, nothing is changed.

/// What pinning did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinned {
    /// Both threads run on this CPU only.
    Cpu(usize),
    /// Nothing to do: the process runs on one CPU, or this is not Linux.
    NotNeeded,
}

/// The CPU the pair is kept on: the last one the calling thread may use, or `None` when it may
/// use only one (or the platform has no affinity). Chosen once, before the caller is pinned.
pub fn choose_cpu() -> Option<usize> {
    imp::allowed_cpus().filter(|cpus| cpus.len() >= 2)?.pop()
}

/// Pins the thread named `worker` (sqlx's worker for the writer connection) and the calling
/// thread to `cpu`, and makes the calling thread a batch thread.
pub fn pin_with(worker: &str, cpu: Option<usize>) -> std::io::Result<Pinned> {
    match cpu {
        Some(cpu) => {
            imp::pin_with(worker, cpu)?;
            imp::run_as_batch()?;
            Ok(Pinned::Cpu(cpu))
        }
        None => Ok(Pinned::NotNeeded),
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use rustix::thread::{CpuSet, Pid, sched_getaffinity, sched_setaffinity};
    use std::io;

    pub(super) fn allowed_cpus() -> Option<Vec<usize>> {
        sched_getaffinity(None)
            .ok()
            .map(|allowed| members(&allowed))
    }

    pub(super) fn members(set: &CpuSet) -> Vec<usize> {
        (0..CpuSet::MAX_CPU)
            .filter(|cpu| set.is_set(*cpu))
            .collect()
    }

    pub(super) fn pin_with(worker: &str, cpu: usize) -> io::Result<()> {
        let tid = thread_named(worker)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no thread named {worker} in this process"),
            )
        })?;
        let mut only = CpuSet::new();
        only.set(cpu);
        sched_setaffinity(Some(tid), &only)?;
        sched_setaffinity(None, &only)?;
        Ok(())
    }

    /// The calling thread as `SCHED_BATCH`: same share of the CPU, but a wake-up never preempts
    /// the running thread.
    pub(super) fn run_as_batch() -> io::Result<()> {
        let normal = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` only reads the parameter struct, which outlives the call;
        // pid 0 is the calling thread.
        let failed = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &normal) } != 0;
        match failed {
            true => Err(io::Error::last_os_error()),
            false => Ok(()),
        }
    }

    /// The id of this process's thread named `name` (`/proc/self/task/<tid>/comm`).
    pub(super) fn thread_named(name: &str) -> io::Result<Option<Pid>> {
        for task in std::fs::read_dir("/proc/self/task")? {
            let task = task?;
            // A thread that ended since the listing has no comm to read: not the one.
            let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
                continue;
            };
            if comm.trim_end() == name {
                let tid = task.file_name().to_string_lossy().parse::<i32>().ok();
                return Ok(tid.and_then(Pid::from_raw));
            }
        }
        Ok(None)
    }
}

/// The CPUs the thread named `name` may run on (tests).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn cpus_of_thread(name: &str) -> Option<Vec<usize>> {
    let tid = imp::thread_named(name).ok()??;
    let set = rustix::thread::sched_getaffinity(Some(tid)).ok()?;
    Some(imp::members(&set))
}

/// The CPUs the calling thread may run on (tests).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn cpus_of_thread_self() -> Vec<usize> {
    imp::allowed_cpus().unwrap_or_default()
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn allowed_cpus() -> Option<Vec<usize>> {
        None
    }

    pub(super) fn pin_with(_worker: &str, _cpu: usize) -> std::io::Result<()> {
        Ok(())
    }

    pub(super) fn run_as_batch() -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use rustix::thread::sched_getaffinity;

    fn cpus_of(tid: Option<rustix::thread::Pid>) -> Vec<usize> {
        imp::members(&sched_getaffinity(tid).unwrap())
    }

    #[test]
    fn the_named_thread_and_the_caller_end_up_on_the_chosen_cpu_alone() {
        let (ready, parked) = std::sync::mpsc::channel();
        let (stop, stopping) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("pin-test-work".to_owned())
            .spawn(move || {
                ready.send(()).unwrap();
                stopping.recv().ok();
            })
            .unwrap();
        parked.recv().unwrap();
        // On a thread of its own, so the test harness's threads keep their CPUs.
        let seen = std::thread::spawn(|| {
            let cpu = choose_cpu();
            let pinned = pin_with("pin-test-work", cpu).unwrap();
            let tid = imp::thread_named("pin-test-work").unwrap().unwrap();
            // SAFETY: reads the calling thread's policy; no pointers.
            let policy = unsafe { libc::sched_getscheduler(0) };
            (cpu, pinned, cpus_of(Some(tid)), cpus_of(None), policy)
        })
        .join()
        .unwrap();
        stop.send(()).unwrap();
        worker.join().unwrap();
        match seen {
            (Some(cpu), pinned, worker_cpus, caller_cpus, policy) => {
                assert_eq!(pinned, Pinned::Cpu(cpu));
                assert_eq!(worker_cpus, vec![cpu]);
                assert_eq!(caller_cpus, vec![cpu]);
                assert_eq!(
                    policy,
                    libc::SCHED_BATCH,
                    "the caller runs as a batch thread"
                );
            }
            // A single-CPU machine: nothing to pin, and nothing was.
            (None, pinned, _, _, policy) => {
                assert_eq!(pinned, Pinned::NotNeeded);
                assert_eq!(policy, libc::SCHED_OTHER);
            }
        }
    }

    #[test]
    fn a_missing_thread_is_an_error_not_a_silent_success() {
        let outcome = std::thread::spawn(|| pin_with("no-such-thread", Some(0)))
            .join()
            .unwrap();
        assert_eq!(outcome.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
