//! The clock, a leaf helper: what time it is, as the nanoseconds since the Unix epoch every stored
//! time uses. Stages that decide by time take the time as an argument (the tracker, the alert
//! rules) so that tests pass their own; this is where the running server reads it.

/// Now, in nanoseconds since the Unix epoch; saturates rather than wrapping (year 2262).
pub fn now_unix_nano() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
