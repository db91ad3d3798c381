import EventStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Timestamps

/// The drift report a person opens in a spreadsheet: one row per drifted enrollment.
public enum DriftReport {
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

    /// Writes the report to `path` (`-` is stdout) through a temporary file and a rename, so a
    /// crash never leaves half a report.
    public static func write(_ text: String, to path: String) throws {
        if path == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        let url = URL(fileURLWithPath: path)
        // A device or a pipe (/dev/null, a FIFO) is written to, never renamed over: as root,
        // a rename would replace /dev/null itself with a regular file.
        if let type = try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType, type != .typeRegular {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            handle.write(Data(text.utf8))
            return
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = url.deletingLastPathComponent().appending(path: ".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            // rename(2) replaces the old report in one step, on the same file system.
            guard rename(temporary.path, url.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// The default report path: `reports/drift-<tenant>-<UTC time>.<format>`.
    public static func defaultPath(tenant: String, at date: Date, format: Format) -> String {
        let stamp = Timestamp.format(date).prefix(19).replacingOccurrences(of: ":", with: "")
        let safeTenant = tenant.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return "reports/drift-\(String(safeTenant))-\(stamp)Z.\(format.rawValue)"
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
