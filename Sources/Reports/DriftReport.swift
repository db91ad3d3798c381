import FileOutput
import Foundation
import Models
#if canImport(Glibc)
import Glibc
#endif

/// The drift report a person opens in a spreadsheet: one row per drifted enrollment.
public enum DriftReport {
    /// CSV for a spreadsheet, JSON for a program; the same columns.
    public enum Format: String, Sendable, CaseIterable {
        case csv, json
    }

    /// The columns, in order.
    public static let columns = [
        "run_id", "tenant", "kind", "period_id", "period_name", "student_period_id", "student_id", "student_name",
        "student_email", "student_status", "changed_fields", "local_active", "remote_active", "local_added_at",
        "remote_added_at", "last_event_id", "last_event_type", "last_event_at", "first_seen_run",
    ]

    /// The report's text.
    public static func render(_ items: [StoredDriftItem], tenant: String, format: Format) -> String {
        switch format {
        case .csv:
            var text = CSV.line(columns)
            for item in items { text += CSV.line(cells(item, tenant: tenant).map { $0 ?? "" }) }
            return text
        case .json:
            let rows = items.map { item in
                Dictionary(uniqueKeysWithValues: zip(columns, cells(item, tenant: tenant)).map { ($0, $1.map(JSONValue.string) ?? .null) })
            }
            return JSONValue.array(rows.map { .object($0) }).text(keyOrder: columns) + "\n"
        }
    }

    /// The folder reports go to when neither a flag nor the school's `report_dir` names one.
    public static let defaultDirectory = "reports"

    /// A report's path: `<directory>/<kind>-<tenant>-<UTC time>.<ext>`, the one rule for every report's name.
    public static func path(_ kind: String, in directory: String = defaultDirectory, tenant: String, at date: Date, extension ext: String) -> String {
        let stamp = Timestamp.format(date).prefix(19).replacingOccurrences(of: ":", with: "")
        return "\(directory)/\(kind)-\(FileName.part(tenant))-\(stamp)Z.\(ext)"
    }

    /// The drift report's path: `<directory>/drift-<tenant>-<UTC time>.<format>`.
    public static func defaultPath(in directory: String = defaultDirectory, tenant: String, at date: Date, format: Format) -> String {
        path("drift", in: directory, tenant: tenant, at: date, extension: format.rawValue)
    }

    private static func cells(_ item: StoredDriftItem, tenant: String) -> [String?] {
        [
            String(item.runID), tenant, item.kind, item.periodID.map(String.init), item.periodName, String(item.studentPeriodID),
            item.studentID.map(String.init), item.studentName, item.studentEmail, item.studentStatus, item.changedFields,
            item.localActive.map { String($0) }, item.remoteActive.map { String($0) }, item.localAddedAt, item.remoteAddedAt,
            item.lastEventID.map { $0.uuidString.lowercased() }, item.lastEventType,
            item.lastEventAt.map { Timestamp.format($0) }, String(item.firstSeenRun),
        ]
    }
}
