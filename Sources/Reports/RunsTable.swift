import Models

/// `runs`: one tab-separated line per run, under a header, so a trend shows in a terminal.
public enum RunsTable {
    public static let header = [
        "run", "tenant", "scope", "started (UTC)", "status", "creates", "updates", "deletes", "stale", "unverified", "re-read",
        "changed", "held deletes", "held creates", "error",
    ]

    /// The header and a line per run, each ending in a newline.
    public static func render(_ runs: [RunRecord]) -> String {
        let rows: [[String]] = [header] + runs.map(cells)
        return rows.map { $0.joined(separator: "\t") + "\n" }.joined()
    }

    private static func cells(_ run: RunRecord) -> [String] {
        let counts: [Int] = [run.missedCreates, run.missedUpdates, run.missedDeletes, run.staleDeletes, run.unverified,
                             run.rosterRereads, run.changedDuringRun, run.heldDeletes, run.heldCreates]
        let start: [String] = [String(run.runID), run.tenant, run.scope, String(Timestamp.format(run.startedAt).prefix(19)), run.status.rawValue]
        return start + counts.map { String($0) } + [run.error ?? ""]
    }
}
