//! Whether an agent's process still runs, from `/proc`: the pid must exist, not be a zombie,
//! and have the start time recorded when the hook found it (a reused pid has another).

use super::Liveness;
use crate::normalize::Process;

/// The system's answer, read from `/proc`.
pub struct ProcLiveness;

impl Liveness for ProcLiveness {
    fn alive(&self, p: Process) -> bool {
        crate::procfs::process_start_ticks(p.pid) == Some(p.start_ticks)
    }
}
