import Models

/// A run's drift compared with the previous complete run of the same scope: which items are new,
/// which persist (same enrollment, same kind, so they keep the run that first saw them), and which
/// earlier items are resolved (both sides agree on the enrollment now).
public struct RunHistory: Sendable {
    public var runID: Int64
    /// The previous complete run's items, by enrollment id.
    public var previous: [Int: StoredDriftItem]

    public init(runID: Int64, previous: [Int: StoredDriftItem]) {
        self.runID = runID
        self.previous = previous
    }

    /// The run that first saw this drift: an earlier one when the previous run had the same kind
    /// for the enrollment, else this one.
    public func firstSeen(_ item: DriftItem) -> Int64 {
        guard let earlier = previous[item.enrollmentID], earlier.kind == item.kind.rawValue else { return runID }
        return earlier.firstSeenRun
    }

    /// How many of `items` this run saw first, and how many an earlier run already had.
    public func newAndPersisting(_ items: [StoredDriftItem]) -> (new: Int, persisting: Int) {
        let new = items.count { $0.firstSeenRun == runID }
        return (new, items.count - new)
    }

    /// Earlier items whose enrollment both sides agree on now.
    public func resolved(agreed: Set<Int>) -> Int {
        previous.keys.count { agreed.contains($0) }
    }
}
