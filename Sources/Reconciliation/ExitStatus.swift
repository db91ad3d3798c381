import Models

/// The exit codes of the command line, decided here so that cron and systemd see the same thing
/// a pure test does: 0 finished, 2 drift (when asked), 75 try again later, 1 error, 130/143 a signal.
public enum ExitStatus {
    /// Finished, with or without drift.
    public static let ok: Int32 = 0
    /// Drift found, with `--detailed-exitcode`.
    public static let drift: Int32 = 2
    /// Incomplete, locked, or out of time: run again later (EX_TEMPFAIL).
    public static let tryAgain: Int32 = 75
    /// An error.
    public static let error: Int32 = 1

    /// The code of a run that was recorded: incomplete wins over drift.
    public static func of(_ run: RunRecord, detailed: Bool) -> Int32 {
        if run.status == .incomplete { return tryAgain }
        return detailed && run.driftCount > 0 ? drift : ok
    }

    /// The code that says the most of several (schools, or a run and its backfill): a signal, an
    /// error, then "try again", then drift, then fine.
    public static func worst(_ codes: [Int32]) -> Int32 {
        for code in [143, 130, error, tryAgain, drift] where codes.contains(code) { return code }
        return codes.max() ?? ok
    }
}
