/// Why a run cannot be backfilled.
public enum BackfillError: Error, Sendable, CustomStringConvertible {
    /// No run has this id.
    case noSuchRun(Int64)
    /// The run is running, failed or was interrupted: it has no drift to repair (id, status).
    case runNotFinished(Int64, String)

    public var description: String {
        switch self {
        case .noSuchRun(let id): "there is no run \(id) (`dreamclass-reconcile runs` lists the runs)"
        case .runNotFinished(let id, let status):
            "run \(id) is \(status): only a finished run (ok, drift or incomplete) can be backfilled; `dreamclass-reconcile runs` lists the runs"
        }
    }
}
