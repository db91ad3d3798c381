import APIConfiguration
import Models
import Reconciliation
import Reports
import Signing

/// Everything one school's nightly run needs, after file, environment and flags are merged.
public struct SchoolSettings: Sendable {
    /// The section's name in the file.
    public var name: String
    public var api: DreamClassConfiguration
    public var scope: ReconcileScope = .all
    public var settle: Duration = Reconciler.defaultSettle
    public var backfill = false
    public var maxDeletes: DeleteLimit = .default
    public var createGuard: CreateGuard = .default
    /// The run (and its backfill) stops waiting on DreamClass or the endpoint after this: what is
    /// unread is unverified, the run incomplete. Fits a nightly window with room to spare.
    public var deadline: Duration = SchoolSettings.defaultDeadline
    public static let defaultDeadline: Duration = .seconds(3 * 3600)
    public var deliverURL: String?
    public var deliverUser: String?
    /// Files holding secrets; the secrets themselves never live in the configuration file.
    public var deliverPasswordFile: String?
    public var webhookSecretFile: String?
    /// How the webhook secret becomes the HMAC key; `nil` leaves it to the flag, else base64.
    public var keyEncoding: WebhookSignature.KeyEncoding?
    public var reportDirectory = DriftReport.defaultDirectory

    /// `environment` with the school's secret files added as `*_FILE` variables, where the
    /// environment does not give the secret itself: the environment wins, as for every setting.
    public func secretsEnvironment(_ environment: [String: String]) -> [String: String] {
        var secrets = environment
        for (variable, file) in [("DREAMCLASS_WEBHOOK_SECRET", webhookSecretFile), ("DREAMCLASS_DELIVER_PASSWORD", deliverPasswordFile)] {
            guard let file, (secrets[variable] ?? "").isEmpty else { continue }
            if (secrets[variable + "_FILE"] ?? "").isEmpty { secrets[variable + "_FILE"] = file }
        }
        return secrets
    }

    public init(name: String, api: DreamClassConfiguration) {
        self.name = name
        self.api = api
    }
}
