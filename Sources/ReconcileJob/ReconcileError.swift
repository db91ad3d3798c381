/// Why a run did not happen or did not finish.
public enum ReconcileError: Error, Sendable, CustomStringConvertible {
    /// Another run of the same tenant holds the lock.
    case locked(tenant: String)

    public var description: String {
        switch self {
        case .locked(let tenant):
            "another reconciliation of tenant \"\(tenant)\" is running (it holds the lock); not starting a second one"
        }
    }
}
