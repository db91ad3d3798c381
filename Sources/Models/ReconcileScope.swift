import Foundation

/// Which periods a run reads.
public enum ReconcileScope: Sendable, Equatable {
    /// Every period of the school (the default).
    case all
    /// Periods whose dates contain today (UTC).
    case current
    /// These periods only (`--period ID`, repeatable).
    case periods([Int])

    /// The scope's name in the run history: runs are compared with earlier runs of the same scope.
    public var key: String {
        switch self {
        case .all: "all"
        case .current: "current"
        case .periods(let ids): "periods:" + Set(ids).sorted().map(String.init).joined(separator: ",")
        }
    }

    /// The periods to read, from the school's list; ids asked for that the school does not have
    /// are returned apart.
    public func select(from periods: [Period], today: String) -> (periods: [Period], unknown: [Int]) {
        switch self {
        case .all: return (periods, [])
        case .current: return (periods.filter { $0.contains(day: today) }, [])
        case .periods(let ids):
            let wanted = Set(ids)
            let found = periods.filter { wanted.contains($0.id) }
            return (found, wanted.subtracting(found.map(\.id)).sorted())
        }
    }
}
