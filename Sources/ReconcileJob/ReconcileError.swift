import Foundation
import Models

/// Why a run did not happen or did not finish.
public enum ReconcileError: Error, Sendable, CustomStringConvertible {
    /// Another run of the same tenant holds the lock.
    case locked(tenant: String)
    /// A run of the tenant completed within `--fresh-within`: another worker of the fleet did it.
    case fresh(tenant: String, runID: Int64, finishedAt: Date)
    /// Cancelled (by a signal) before it finished; recorded as `interrupted` (run id 0 for a dry run).
    case interrupted(runID: Int64)

    public var description: String {
        switch self {
        case .locked(let tenant):
            "another reconciliation of tenant \"\(tenant)\" is running (it holds the lock); not starting a second one. "
                + "Try again when it ends (`dreamclass-reconcile runs` shows it); a run whose process died frees the lock at once"
        case .fresh(let tenant, let runID, let finishedAt):
            "tenant \"\(tenant)\" was reconciled recently (run \(runID), finished \(Timestamp.format(finishedAt))); skipped"
        case .interrupted(let runID):
            "run \(runID) was interrupted; it is recorded as interrupted, and no report was written"
        }
    }
}
