import Foundation
import Models

/// The one line a person takes in at a glance, e.g.
/// `drift: 3 missed creates, 1 missed update, 2 missed deletes, 0 stale deletes (4 new, 2 persisting, 1 resolved) · 12 periods · 4,210 enrollments · 31 API calls (2 retried) · 1.8 s`.
public enum RunSummary {
    /// The summary line of `run`, which took `seconds`.
    public static func line(_ run: RunRecord, seconds: Double) -> String {
        func plural(_ count: Int, _ word: String) -> String { "\(count.grouped) \(word)\(count == 1 ? "" : "s")" }
        var parts = [
            "\(run.status.rawValue): \(plural(run.missedCreates, "missed create")), \(plural(run.missedUpdates, "missed update")), "
                + "\(plural(run.missedDeletes, "missed delete")), \(plural(run.staleDeletes, "stale delete")) "
                + "(\(run.newItems) new, \(run.persistingItems) persisting, \(run.resolvedItems) resolved)",
            run.periodsFailed > 0 ? "\(run.periodsTotal) periods (\(run.periodsFailed) unreadable)" : plural(run.periodsTotal, "period"),
            plural(run.remoteEnrollments, "enrollment"),
            "\(plural(run.apiCalls, "API call")) (\(run.apiRetries) retried" + (run.rosterRereads > 0 ? ", \(run.rosterRereads) re-read)" : ")"),
            String(format: "%.1f s", seconds),
        ]
        var extras: [String] = []
        if run.inFlight > 0 { extras.append("\(run.inFlight) in flight") }
        if run.unverified > 0 { extras.append("\(run.unverified) unverified") }
        if run.changedDuringRun > 0 { extras.append("\(run.changedDuringRun) changed during the run") }
        if run.eventsUnusable > 0 { extras.append("\(run.eventsUnusable) unusable events") }
        if run.eventsUnsigned > 0 { extras.append("\(run.eventsUnsigned) events with a bad signature") }
        if !extras.isEmpty { parts.insert(extras.joined(separator: ", "), at: 1) }
        return parts.joined(separator: " · ")
    }
}

extension Int {
    /// 4210 as "4,210".
    var grouped: String {
        let digits = String(abs(self))
        var out = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (self < 0 ? "-" : "") + String(out.reversed())
    }
}
