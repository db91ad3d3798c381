import Foundation
import Models

/// How workers of a fleet (`run --all-tenants --fresh-within` on several hosts) share the schools:
/// a worker takes a school's lock without waiting, then runs it only when no complete run of it
/// is fresh; a school another worker holds is tried again once that worker lets go.
public enum Fleet {
    /// Whether a complete run that finished at `finishedAt` is recent enough to skip the school.
    public static func isFresh(finishedAt: Date, now: Date, within: Duration) -> Bool {
        now.timeIntervalSince(finishedAt) < within.seconds
    }

    /// What a worker does with a school after trying it.
    public enum Attempt: Sendable, Equatable {
        /// Ran (or failed): done with it.
        case done
        /// Fresh: another worker (or an earlier pass) ran it; done with it.
        case fresh
        /// Another worker holds it now: try again after the others, until it is fresh or free.
        case claimedElsewhere
    }
}
