/// How many deletes one period may get from a backfill before they are held for a person to look
/// at: a count, or a share of the period's local enrollments.
public enum DeleteLimit: Sendable, Equatable {
    case count(Int)
    case percent(Double)

    /// `25` or `10%`.
    public init?(_ text: String) {
        if text.hasSuffix("%") {
            guard let value = Double(text.dropLast()), value >= 0 else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text), value >= 0 else { return nil }
            self = .count(value)
        }
    }

    /// Whether `deletes` out of `localEnrollments` exceeds the limit.
    func isExceeded(deletes: Int, localEnrollments: Int) -> Bool {
        switch self {
        case .count(let limit): deletes > limit
        case .percent(let share): Double(deletes) > Double(localEnrollments) * share / 100
        }
    }
}
