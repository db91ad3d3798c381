import Synchronization

/// Counts every HTTP call by operation and outcome, and the retries, so a run can report them.
public final class CallStatistics: Sendable {
    /// A copy of the counts at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Per operation, per outcome: an HTTP status (`"200"`) or `"timeout"`, `"connection"`.
        public var calls: [APIOperation: [String: Int]] = [:]
        /// Tries after the first, over all calls.
        public var retries = 0
        /// Lists read again because their pages disagreed.
        public var rereads = 0

        /// All HTTP requests made.
        public var totalCalls: Int { calls.values.reduce(0) { $0 + $1.values.reduce(0, +) } }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func record(_ operation: APIOperation, outcome: String) {
        state.withLock { $0.calls[operation, default: [:]][outcome, default: 0] += 1 }
    }

    func recordRetry() {
        state.withLock { $0.retries += 1 }
    }

    func recordReread() {
        state.withLock { $0.rereads += 1 }
    }
}
