import Foundation

/// The CSV of a backfill: one row per synthetic event.
public enum BackfillReport {
    public static let columns = ["event_id", "kind", "event_type", "student_period_id", "period_id", "outcome", "delivery_state", "reason"]

    /// A row of the report.
    public struct Row: Sendable {
        public var eventID: UUID
        public var kind: String
        public var eventType: String
        public var studentPeriodID: Int
        public var periodID: Int?
        public var outcome: String
        public var deliveryState: String?
        /// Why it was held or skipped.
        public var reason: String?

        public init(eventID: UUID, kind: String, eventType: String, studentPeriodID: Int, periodID: Int?, outcome: String, deliveryState: String?, reason: String? = nil) {
            self.eventID = eventID
            self.kind = kind
            self.eventType = eventType
            self.studentPeriodID = studentPeriodID
            self.periodID = periodID
            self.outcome = outcome
            self.deliveryState = deliveryState
        }
    }

    /// `<directory>/backfill-<tenant>-<UTC time>.csv`.
    public static func defaultPath(in directory: String = DriftReport.defaultDirectory, tenant: String, at date: Date) -> String {
        DriftReport.path("backfill", in: directory, tenant: tenant, at: date, extension: "csv")
    }

    /// - Parameters:
    ///   - dryRun: rows say what would happen: `would_store` for an event a backfill would write.
    ///   - wouldDeliver: for a dry run with `--deliver`: rows to be stored say `would_deliver`.
    public static func render(_ rows: [Row], dryRun: Bool = false, wouldDeliver: Bool = false) -> String {
        rows.reduce(CSV.line(columns)) { text, row in
            let toStore = row.outcome == "stored"
            return text + CSV.line([
                row.eventID.uuidString.lowercased(), row.kind, row.eventType, String(row.studentPeriodID),
                row.periodID.map(String.init) ?? "", dryRun && toStore ? "would_store" : row.outcome,
                row.deliveryState ?? (dryRun && wouldDeliver && toStore ? "would_deliver" : ""), row.reason ?? "",
            ])
        }
    }
}
