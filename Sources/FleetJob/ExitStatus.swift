import Backfill
import Models

/// The exit codes of the command line: one table, which the README prints, the cron wrapper and
/// the systemd units follow, and a pure test reads. What a code asks of the caller:
///
/// | code | meaning | what to do |
/// |---|---|---|
/// | 0 | finished, with or without drift | nothing |
/// | 2 | drift found (only with `--detailed-exitcode`) | read the report |
/// | 3 | the guard held deletes (a period lost too many at once) | a person reviews the report, then `--allow-mass-delete` |
/// | 64 | usage: a flag, or a run or enrollment id that does not exist | fix the command line |
/// | 65 | rejected input (an `ingest` line that is not a webhook) | fix the input; the rest was stored |
/// | 75 | try again later: another run holds the school, the deadline passed, DreamClass throttled or failed, PostgreSQL unavailable or a lock held, a period unread | nothing; the next run retries |
/// | 78 | configuration, a person must act: 401/403, an unreadable secret, a school not in the file, a tenant with no stored event or mass creates | fix the setting the message names |
/// | 1 | anything else (a bug, a full disk) | read the message |
/// | 130, 143 | stopped by SIGINT, SIGTERM | nothing; the run is recorded as interrupted |
public enum ExitStatus {
    /// Finished, with or without drift.
    public static let ok: Int32 = 0
    /// An error no other code describes.
    public static let error: Int32 = 1
    /// Drift found, with `--detailed-exitcode`.
    public static let drift: Int32 = 2
    /// The mass-delete guard held deletes: a person must look before they go downstream.
    public static let held: Int32 = 3
    /// The command line is wrong (EX_USAGE), a run or enrollment id among it.
    public static let usage: Int32 = 64
    /// Input refused (EX_DATAERR).
    public static let rejectedInput: Int32 = 65
    /// Incomplete, locked, throttled or out of time: run again later (EX_TEMPFAIL).
    public static let tryAgain: Int32 = 75
    /// The configuration is wrong (EX_CONFIG): a person must change a setting.
    public static let configuration: Int32 = 78
    /// Stopped by SIGINT and SIGTERM (128 + the signal's number, as shells report it).
    public static let interrupted: Int32 = 130
    public static let terminated: Int32 = 143

    /// Every code, the most telling first: what ``worst(_:)`` ranks by.
    public static let severity: [Int32] = [terminated, interrupted, error, configuration, usage, rejectedInput, tryAgain, held, drift, ok]

    /// The code of a run that was recorded: incomplete wins over a suspected mass create, which
    /// wins over drift.
    public static func of(_ run: RunRecord, detailed: Bool, suspectedCreates: Bool = false) -> Int32 {
        if run.status == .incomplete { return tryAgain }
        if suspectedCreates { return configuration }
        return detailed && run.driftCount > 0 ? drift : ok
    }

    /// The code of a backfill: failed deliveries, suspect creates held, deletes held; the worst of them.
    public static func of(_ backfill: BackfillJob.Outcome) -> Int32 {
        worst([
            backfill.deliveryFailed > 0 ? tryAgain : ok,
            backfill.createsHeld != nil ? configuration : ok,
            backfill.held(.missedDelete) > 0 ? held : ok,
        ])
    }

    /// The code that says the most of several (schools, or a run and its backfill).
    public static func worst(_ codes: [Int32]) -> Int32 {
        for code in severity where codes.contains(code) { return code }
        return codes.max() ?? ok
    }
}
