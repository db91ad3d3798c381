import Foundation
import Models

/// What was read of DreamClass: the periods in scope, and each one's roster when it could be read
/// completely. A period whose read failed has no rows here at all, never part of them.
public struct RemoteRoster: Sendable {
    /// A roster read whole and consistent, or why it could not be.
    public enum Read: Sendable, Equatable {
        case complete([Enrollment])
        case failed(String)
    }

    /// The periods in scope, in order.
    public var periods: [Period]
    public var reads: [Int: Read]
    /// Whether the scope is every period of the school (not `--period` or `--current`).
    public var scopeIsAllPeriods: Bool

    public init(periods: [Period], reads: [Int: Read], scopeIsAllPeriods: Bool) {
        self.periods = periods
        self.reads = reads
        self.scopeIsAllPeriods = scopeIsAllPeriods
    }

    public var failedPeriods: [Period] {
        periods.filter { if case .failed = reads[$0.id] { true } else { false } }
    }

    public var isComplete: Bool { failedPeriods.isEmpty && periods.allSatisfy { reads[$0.id] != nil } }

    /// Whether the period's roster was read whole: only then may its absences be claimed.
    public func wasReadCompletely(_ periodID: Int) -> Bool {
        if case .complete = reads[periodID] { return true }
        return false
    }
}
