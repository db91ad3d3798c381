import FileOutput
import Foundation
import Models

/// The Prometheus text format for node_exporter's textfile collector: one gauge family per
/// figure, a `tenant` label per school.
public enum MetricsFile {
    /// What one school's run left, for the metrics. A run that failed before it was recorded has
    /// no record, only its status and duration.
    public struct Sample: Sendable {
        public var tenant: String
        public var status: RunRecord.Status
        public var finishedAt: Date
        public var seconds: Double
        public var run: RunRecord?

        /// A run that finished, with or without drift: what the last-success gauge counts.
        public var succeeded: Bool { status == .ok || status == .drift }

        public init(tenant: String, status: RunRecord.Status, finishedAt: Date, seconds: Double, run: RunRecord?) {
            self.tenant = tenant
            self.status = status
            self.finishedAt = finishedAt
            self.seconds = seconds
            self.run = run
        }
    }

    /// The file's text: one gauge family per figure, a sample per school.
    public static func render(_ samples: [Sample]) -> String {
        var text = ""
        func family(_ name: String, _ help: String, _ values: [(labels: [(String, String)], value: Double)]) {
            text += "# HELP dreamclass_reconcile_\(name) \(help)\n# TYPE dreamclass_reconcile_\(name) gauge\n"
            for (labels, value) in values {
                let rendered = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                text += "dreamclass_reconcile_\(name){\(rendered)} \(format(value))\n"
            }
        }
        family("last_run_timestamp_seconds", "When the last run ended (Unix time).",
               samples.map { ([("tenant", $0.tenant)], $0.finishedAt.timeIntervalSince1970) })
        family("last_run_duration_seconds", "How long the last run took.", samples.map { ([("tenant", $0.tenant)], $0.seconds) })
        family("last_success_timestamp_seconds", "When the last run that finished (ok or drift) ended (Unix time); not written by a run that did not.",
               samples.filter(\.succeeded).map { ([("tenant", $0.tenant)], $0.finishedAt.timeIntervalSince1970) })
        family("last_run_status", "1 for the status of the last run, 0 for the others.", samples.flatMap { sample in
            ["ok", "drift", "incomplete", "failed", "interrupted"].map { ([("tenant", sample.tenant), ("status", $0)], sample.status.rawValue == $0 ? 1 : 0) }
        })
        let recorded = samples.compactMap { sample in sample.run.map { (sample.tenant, $0) } }
        family("drift", "Drift items of the last run, per kind.", recorded.flatMap { tenant, run in
            [("missed_create", run.missedCreates), ("missed_update", run.missedUpdates), ("missed_delete", run.missedDeletes),
             ("stale_delete", run.staleDeletes)].map { ([("tenant", tenant), ("kind", $0.0)], Double($0.1)) }
        })
        family("api_calls", "DreamClass API calls of the last run.", recorded.map { ([("tenant", $0.0)], Double($0.1.apiCalls)) })
        family("api_retries", "Retried DreamClass API calls of the last run.", recorded.map { ([("tenant", $0.0)], Double($0.1.apiRetries)) })
        family("events_read", "Stored webhook events the last run read.", recorded.map { ([("tenant", $0.0)], Double($0.1.eventsRead)) })
        family("unverified", "Enrollments the last run could not verify.", recorded.map { ([("tenant", $0.0)], Double($0.1.unverified)) })
        family("roster_rereads", "Rosters the last run read again because their pages disagreed.",
               recorded.map { ([("tenant", $0.0)], Double($0.1.rosterRereads)) })
        family("changed_during_run", "Deletes the last run's confirming reads did not confirm.",
               recorded.map { ([("tenant", $0.0)], Double($0.1.changedDuringRun)) })
        family("held_deletes", "Deletes the last run's backfill held for a person to review (the mass-delete guard).",
               recorded.map { ([("tenant", $0.0)], Double($0.1.heldDeletes)) })
        family("held_creates", "Creates the last run's backfill held as suspect (the mass-create guard).",
               recorded.map { ([("tenant", $0.0)], Double($0.1.heldCreates)) })
        return text
    }

    /// Replaces the file whole (a temporary file, then a rename), so the collector never reads half of it.
    public static func write(_ samples: [Sample], to path: String) throws {
        // No personal data; the collector runs as another user and must read it, and reach it.
        try OutputFile.write(render(samples), to: path, mode: 0o644, folderMode: 0o755)
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
