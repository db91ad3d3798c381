import FileOutput
import Foundation
import Models
import Reconciliation
#if canImport(Glibc)
import Glibc
#endif

/// The drift report a person opens in a spreadsheet: one row per drifted enrollment.
public enum DriftReport {
    /// CSV for a spreadsheet, JSON for a program; the same columns.
    public enum Format: String, Sendable, CaseIterable {
        case csv, json
    }

    /// The columns, in order. New columns are added at the end, so a sheet built on the old
    /// ones keeps working.
    public static let columns = [
        "run_id", "tenant", "kind", "period_id", "period_name", "student_period_id", "student_id", "student_name",
        "student_email", "student_status", "changed_fields", "local_active", "remote_active", "local_added_at",
        "remote_added_at", "last_event_id", "last_event_type", "last_event_at", "first_seen_run", "reason",
    ]

    /// The report's text. Every date-time is written one way (``Timestamp/display(_:)-(Date)``);
    /// JSON has numbers, booleans and `null` for an absent value.
    public static func render(_ items: [StoredDriftItem], tenant: String, format: Format) -> String {
        switch format {
        case .csv:
            var text = CSV.line(columns)
            for item in items { text += CSV.line(cells(item, tenant: tenant).map(\.cell)) }
            return text
        case .json:
            // One object per line: a file a person can still skim, and diff.
            let rows = items.map { item in JSONValue.object(Array(zip(columns, cells(item, tenant: tenant)))).text() }
            return "[" + rows.joined(separator: ",\n") + "]\n"
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

    private static func cells(_ item: StoredDriftItem, tenant: String) -> [JSONValue] {
        [
            .int(item.runID), .string(tenant), .string(item.kind), .number(item.periodID), .text(item.periodName),
            .number(item.studentPeriodID), .number(item.studentID), .text(item.studentName), .text(item.studentEmail),
            .text(item.studentStatus), .text(item.changedFields.isEmpty ? nil : item.changedFields), .flag(item.localActive),
            .flag(item.remoteActive), .text(item.localAddedAt.map(Timestamp.display)), .text(item.remoteAddedAt.map(Timestamp.display)),
            .text(item.lastEventID.map { $0.uuidString.lowercased() }), .text(item.lastEventType),
            .text(item.lastEventAt.map(Timestamp.display)), .int(item.firstSeenRun), .string(DriftReason.sentence(item)),
        ]
    }
}
