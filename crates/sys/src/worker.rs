//! Background threads for filesystem chores whose waiting a program
//! should not do itself (svlogd: fsync and rename after a rotation in one,
//! pruning old files in another, while the main thread goes on reading).
//! Jobs are plain `Copy` values sent whole through a pipe (one `write(2)`
//! each, atomic below PIPE_BUF); finished jobs are counted, so the sender
//! can wait until all its jobs are done ([`Worker::wait_idle`]); a byte on
//! a second pipe wakes it only if it is already waiting (no syscall at all
//! when the jobs are done by then). Nothing is allocated; each thread blocks
//! every signal, so signals keep going to the main thread's event loop.

use crate::errno::{cvt, cvt_retry, Errno};
use crate::fd::{pipe, Fd};
use core::marker::PhantomData;
use core::mem::{size_of, MaybeUninit};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The sending side, owned by the main thread.
pub struct Worker<J> {
    jobs: Fd,
    acks: Fd,
    /// Jobs sent (compared with the slot's `done`).
    sent: usize,
    slot: &'static Slot,
    job: PhantomData<J>,
}

/// What a thread runs: its handler and its two pipe ends.
struct Slot {
    entry: AtomicUsize,
    jobs: AtomicUsize,
    acks: AtomicUsize,
    /// Jobs finished by the thread.
    done: AtomicUsize,
    /// The sender is (about to be) blocked on the ack pipe.
    waiting: AtomicBool,
}

/// Threads a process may start.
const SLOTS: usize = 2;

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    entry: AtomicUsize::new(0),
    jobs: AtomicUsize::new(0),
    acks: AtomicUsize::new(0),
    done: AtomicUsize::new(0),
    waiting: AtomicBool::new(false),
};

static SLOT: [Slot; SLOTS] = [FREE; SLOTS];

impl<J: Copy + Send + 'static> Worker<J> {
    /// Starts a thread (at most [`SLOTS`] per process; EBUSY after): it
    /// runs `handle` on each job, in order.
    pub fn start(handle: fn(J)) -> Result<Worker<J>, Errno> {
        const { assert!(size_of::<J>() > 0 && size_of::<J>() <= 512) };
        // Claims a free slot for this J's handler.
        let claimed = SLOT.iter().position(|s| {
            s.entry
                .compare_exchange(0, handle as usize, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        let (Some(index), Some(slot)) = (claimed, claimed.and_then(|i| SLOT.get(i))) else {
            return Err(Errno(libc::EBUSY));
        };
        let pipes = pipe(false).and_then(|j| pipe(false).map(|a| (j, a)));
        let ((job_r, job_w), (ack_r, ack_w)) = match pipes {
            Ok(p) => p,
            Err(e) => {
                slot.entry.store(0, Ordering::Release);
                return Err(e);
            }
        };
        slot.done.store(0, Ordering::SeqCst);
        slot.waiting.store(false, Ordering::SeqCst);
        slot.jobs.store(job_r.raw() as usize, Ordering::Release);
        slot.acks.store(ack_w.raw() as usize, Ordering::Release);
        // SAFETY: attr is initialised by pthread_attr_init before use; the
        // thread function only touches its slot, set above, and the two
        // descriptors, which it then owns. The argument is the slot's
        // index, not a pointer.
        unsafe {
            let mut attr: libc::pthread_attr_t = core::mem::zeroed();
            libc::pthread_attr_init(&mut attr);
            libc::pthread_attr_setstacksize(&mut attr, 64 * 1024);
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            let mut all: libc::sigset_t = core::mem::zeroed();
            let mut old: libc::sigset_t = core::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let mut tid: libc::pthread_t = core::mem::zeroed();
            let arg = index as *mut libc::c_void;
            let rc = libc::pthread_create(&mut tid, &attr, run::<J>, arg);
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
            libc::pthread_attr_destroy(&mut attr);
            if rc != 0 {
                slot.entry.store(0, Ordering::Release);
                return Err(Errno(rc));
            }
        }
        // The thread owns its ends now.
        core::mem::forget(job_r);
        core::mem::forget(ack_w);
        Ok(Worker {
            jobs: job_w,
            acks: ack_r,
            sent: 0,
            slot,
            job: PhantomData,
        })
    }

    /// Queues a job (blocks only if the pipe is full).
    pub fn send(&mut self, job: J) -> Result<(), Errno> {
        let p = (&job as *const J).cast::<u8>();
        // SAFETY: job is a live J; its bytes are read for the write only.
        let n = cvt_retry(|| unsafe { libc::write(self.jobs.raw(), p.cast(), size_of::<J>()) })?;
        if usize::try_from(n).ok() != Some(size_of::<J>()) {
            return Err(Errno(libc::EIO));
        }
        self.sent = self.sent.wrapping_add(1);
        Ok(())
    }

    /// Blocks until every job sent so far is done.
    pub fn wait_idle(&mut self) {
        let slot = self.slot;
        let mut buf = [0u8; 64];
        // Sequentially consistent on both sides: either this thread sees
        // the last `done`, or the worker sees `waiting` and writes a byte.
        // A byte left over from an earlier wait only makes one read return
        // early; the count is what decides.
        while slot.done.load(Ordering::SeqCst) != self.sent {
            slot.waiting.store(true, Ordering::SeqCst);
            if slot.done.load(Ordering::SeqCst) == self.sent {
                break;
            }
            match self.acks.read(&mut buf) {
                Ok(0) | Err(_) => break, // the thread is gone
                Ok(_) => {}
            }
        }
        slot.waiting.store(false, Ordering::SeqCst);
    }
}

extern "C" fn run<J: Copy + Send + 'static>(arg: *mut libc::c_void) -> *mut libc::c_void {
    let Some(slot) = SLOT.get(arg as usize) else {
        return core::ptr::null_mut();
    };
    let entry = slot.entry.load(Ordering::Acquire);
    let jobs = slot.jobs.load(Ordering::Acquire) as libc::c_int;
    let acks = slot.acks.load(Ordering::Acquire) as libc::c_int;
    // SAFETY: the slot holds the fn(J) stored by start::<J> for this J.
    let handle: fn(J) = unsafe { core::mem::transmute::<usize, fn(J)>(entry) };
    loop {
        let mut job = MaybeUninit::<J>::uninit();
        let mut got = 0usize;
        while got < size_of::<J>() {
            // SAFETY: writes stay inside job's bytes.
            let n = unsafe {
                libc::read(
                    jobs,
                    job.as_mut_ptr().cast::<u8>().add(got).cast(),
                    size_of::<J>() - got,
                )
            };
            match usize::try_from(n) {
                Ok(n) if n > 0 => got += n,
                Err(_) if Errno::last().0 == libc::EINTR => {}
                // The sender is gone (or the pipe broke): closing the ack
                // end lets a waiting sender see end of file.
                _ => {
                    // SAFETY: both descriptors belong to this thread.
                    unsafe {
                        libc::close(jobs);
                        libc::close(acks);
                    }
                    return core::ptr::null_mut();
                }
            }
        }
        // SAFETY: all bytes of a J written by send() in this process.
        handle(unsafe { job.assume_init() });
        slot.done.fetch_add(1, Ordering::SeqCst);
        if slot.waiting.load(Ordering::SeqCst) {
            // SAFETY: one byte from a local.
            let _ = cvt(unsafe { libc::write(acks, b"k".as_ptr().cast(), 1) });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::Worker;
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::Duration;

    static FIRST: AtomicU64 = AtomicU64::new(0);
    static SECOND: AtomicUsize = AtomicUsize::new(0);

    fn first(job: u64) {
        // Slow enough that wait_idle really has to wait.
        std::thread::sleep(Duration::from_millis(2));
        // Jobs arrive in order: each is the previous one plus one.
        let prev = FIRST.swap(job, Ordering::SeqCst);
        assert_eq!(prev + 1, job, "jobs out of order");
    }

    fn second(job: [u8; 300]) {
        SECOND.fetch_add(usize::from(job[299]), Ordering::SeqCst);
    }

    fn third(_: u8) {}

    // The only test here that starts threads: the slots are per process.
    #[test]
    fn two_workers_run_their_jobs_in_order_and_a_third_is_refused() {
        let mut a = Worker::start(first).unwrap();
        let mut b = Worker::start(second).unwrap();
        assert_eq!(Worker::start(third).err().map(|e| e.0), Some(libc::EBUSY));
        for job in 1..=20u64 {
            a.send(job).unwrap();
            let mut big = [0u8; 300];
            big[299] = 3;
            b.send(big).unwrap();
        }
        a.wait_idle();
        assert_eq!(
            FIRST.load(Ordering::SeqCst),
            20,
            "all 20 done after wait_idle"
        );
        b.wait_idle();
        assert_eq!(
            SECOND.load(Ordering::SeqCst),
            60,
            "300-byte jobs arrive whole"
        );
        a.send(21).unwrap();
        a.wait_idle();
        assert_eq!(
            FIRST.load(Ordering::SeqCst),
            21,
            "a worker takes jobs again"
        );
    }
}
