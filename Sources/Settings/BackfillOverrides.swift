import Reconciliation
import Signing

/// The backfill's flags (of `backfill` and `run --backfill`): each one given wins over the
/// school's own setting, each one not given leaves it. The backfill reads only the merged settings.
public struct BackfillOverrides: Sendable {
    public var maxDeletes: DeleteLimit?
    public var deliverURL: String?
    public var deliverUser: String?
    public var keyEncoding: WebhookSignature.KeyEncoding?

    public init(maxDeletes: DeleteLimit? = nil, deliverURL: String? = nil, deliverUser: String? = nil, keyEncoding: WebhookSignature.KeyEncoding? = nil) {
        self.maxDeletes = maxDeletes
        self.deliverURL = deliverURL
        self.deliverUser = deliverUser
        self.keyEncoding = keyEncoding
    }

    /// `school` with these over it.
    public func applied(to school: SchoolSettings) -> SchoolSettings {
        var settings = school
        if let maxDeletes { settings.maxDeletes = maxDeletes }
        if let deliverURL { settings.deliverURL = deliverURL }
        if let deliverUser { settings.deliverUser = deliverUser }
        if let keyEncoding { settings.keyEncoding = keyEncoding }
        return settings
    }
}
