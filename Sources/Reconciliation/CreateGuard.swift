/// The guard for creates: a run that would call most of a school's roster missed, or any of it
/// for a tenant with no stored event, more likely reads the wrong tenant's events (or a receiver
/// that never stored anything) than a school whose webhooks all went missing. Such a run says
/// what it suspects and exits with the configuration code, and its backfill holds the creates
/// until `--allow-mass-create` (a first load of a school, on purpose).
public struct CreateGuard: Sendable, Equatable {
    /// Missed creates above this share of the roster (percent, 0 to 100) are suspect.
    public var maxShare: Double

    /// Half the roster: a school loses that many webhooks only when nothing reached the store.
    public static let `default` = CreateGuard(maxShare: 50)

    public init(maxShare: Double) {
        self.maxShare = maxShare
    }

    /// Reads `50%` (or `50`): a share from 0% to 100%.
    public init?(_ text: String) {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let share = Double(number.trimmingCharacters(in: .whitespaces)), (0...100).contains(share) else { return nil }
        self.maxShare = share
    }

    /// What the setting takes, for error messages.
    public static let expected = "a share from 0% to 100% of the roster (50%)"

    /// Why the creates look wrong, or `nil` when they do not.
    public enum Suspicion: Sendable, Equatable, CustomStringConvertible {
        /// The store holds no event of the tenant, yet DreamClass lists enrollments.
        case noStoredEvents(tenant: String, creates: Int)
        /// More than the share of the roster is missing from the store.
        case tooMany(tenant: String, creates: Int, roster: Int, maxShare: Double)

        public var description: String {
            switch self {
            case .noStoredEvents(let tenant, let creates):
                "the store holds no event of tenant \"\(tenant)\", yet DreamClass lists \(creates) enrollments as missing from it: "
                    + "is the tenant misspelled, or does the receiver (serve) not store this school's webhooks? "
                    + "To load a new school on purpose, run its backfill with --allow-mass-create"
            case .tooMany(let tenant, let creates, let roster, let share):
                "\(creates) of DreamClass's \(roster) enrollments of tenant \"\(tenant)\" are missing from the store, more than "
                    + "\(Self.percent(share)) (max_creates): does the store hold another tenant's events, or did the receiver stop storing? "
                    + "If the school really lost them, run its backfill with --allow-mass-create"
            }
        }

        private static func percent(_ share: Double) -> String {
            share == share.rounded() ? "\(Int(share))%" : "\(share)%"
        }
    }

    /// - Parameters:
    ///   - creates: the run's missed creates.
    ///   - roster: the enrollments DreamClass listed in the periods the run read.
    ///   - localEnrollments: the enrollments the store holds any event of, for the tenant.
    public func suspicion(tenant: String, creates: Int, roster: Int, localEnrollments: Int) -> Suspicion? {
        guard creates > 0 else { return nil }
        if localEnrollments == 0 { return .noStoredEvents(tenant: tenant, creates: creates) }
        if Double(creates) > Double(roster) * maxShare / 100 {
            return .tooMany(tenant: tenant, creates: creates, roster: roster, maxShare: maxShare)
        }
        return nil
    }
}
