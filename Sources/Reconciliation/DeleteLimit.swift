import Foundation

/// How many deletes one period may get from a backfill before they are held for a person to look
/// at: a count, or a share of the period's local enrollments.
public enum DeleteLimit: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Double)

    /// `25` or `10%`: a whole count from 0, or a share from 0% to 100%.
    public init?(_ text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasSuffix("%") {
            guard let value = Double(text.dropLast()), (0...100).contains(value) else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text), value >= 0 else { return nil }
            self = .count(value)
        }
    }

    /// As the setting is written: `25` or `10%`.
    public var description: String {
        switch self {
        case .count(let limit): "\(limit)"
        case .percent(let share): share == share.rounded() ? "\(Int(share))%" : "\(share)%"
        }
    }

    /// A tenth of a period's enrollments: more than a school loses in one night in the normal course.
    public static let `default` = DeleteLimit.percent(10)

    /// What the setting takes, for error messages.
    public static let expected = "a count (25) or a share from 0% to 100% (10%)"

    /// Whether `deletes` out of `localEnrollments` exceeds the limit.
    public func isExceeded(deletes: Int, localEnrollments: Int) -> Bool {
        switch self {
        case .count(let limit): deletes > limit
        case .percent(let share): Double(deletes) > Double(localEnrollments) * share / 100
        }
    }
}
