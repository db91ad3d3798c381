import DreamClassAPI
import ReconcileJob
import Reconciliation

/// Everything one school's nightly run needs, after file, environment and flags are merged.
public struct SchoolSettings: Sendable {
    /// The section's name in the file.
    public var name: String
    public var api: DreamClassConfiguration
    public var scope: ReconcileScope = .all
    public var settle: Duration = .seconds(900)
    public var backfill = false
    public var maxDeletes: DeleteLimit = .percent(10)
    /// The run (and its backfill) stops waiting on DreamClass or the endpoint after this: what is
    /// unread is unverified, the run incomplete. Fits a nightly window with room to spare.
    public var deadline: Duration = SchoolSettings.defaultDeadline
    public static let defaultDeadline: Duration = .seconds(3 * 3600)
    public var deliverURL: String?
    public var deliverUser: String?
    /// Files holding secrets; the secrets themselves never live in the configuration file.
    public var deliverPasswordFile: String?
    public var webhookSecretFile: String?
    public var reportDirectory = "reports"

    public init(name: String, api: DreamClassConfiguration) {
        self.name = name
        self.api = api
    }
}
