import Foundation
import Models
import Reconciliation

/// `explain`'s output: the evidence behind one enrollment's drift, as text for a person or JSON
/// for a program (the same sections: events, belief, dreamclass, verdict, repair, live).
public enum ExplanationReport {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    /// What `--live` found: what a run now would conclude, recording nothing.
    public struct Live: Sendable {
        /// The periods read now, whole or not.
        public var periodsRead: [PeriodReadRecord]
        /// Whether DreamClass lists the enrollment now, and its row.
        public var listed: Enrollment?
        /// What GetStudent answers now.
        public var student: StudentLookup?
        /// The verdict: a drift kind, `in_sync`, `in_flight` or `unverified`, and its sentence.
        public var kind: String
        public var sentence: String

        public init(periodsRead: [PeriodReadRecord], listed: Enrollment?, student: StudentLookup?, kind: String, sentence: String) {
            self.periodsRead = periodsRead
            self.listed = listed
            self.student = student
            self.kind = kind
            self.sentence = sentence
        }
    }

    public static func render(_ explanation: Explanation, live: Live? = nil, format: Format) -> String {
        switch format {
        case .json: json(explanation, live: live).text(indent: "  ") + "\n"
        case .text: text(explanation, live: live)
        }
    }

    // MARK: - JSON

    static func json(_ x: Explanation, live: Live?) -> JSONValue {
        let evidence = x.evidence
        let item = evidence.item
        var fields: [(String, JSONValue)] = [
            ("tenant", .string(evidence.tenant)), ("student_period_id", .number(evidence.enrollmentID)),
            ("run_id", .number(evidence.run?.runID)),
            ("events", .array(x.events.map(event))),
            ("belief", .object([
                ("winner", x.belief.folded.map(localEvent) ?? .null), ("kept", x.belief.kept.map(localEvent) ?? .null),
                ("next_run", x.belief.next.map(localEvent) ?? .null), ("consistent", .bool(x.belief.defect == nil)),
                ("check", .string(x.belief.check)),
            ])),
            ("dreamclass", .object([
                ("period_id", .number(evidence.periodID)), ("period_name", .text(item?.periodName ?? evidence.periodRead?.name)),
                ("period_read", evidence.periodRead.map(periodRead) ?? .null), ("all_periods_read", .bool(evidence.allPeriodsRead)),
                ("in_first_read", .flag(item?.inFirstRead)), ("in_confirming_read", .flag(item?.inConfirmingRead)),
                ("remote", item.map { item in
                    item.inFirstRead == false ? .null : .object([
                        ("student_id", .number(item.remoteStudentID)), ("active", .flag(item.remoteActive)),
                        ("added_at", .text(item.remoteAddedAt.map(Timestamp.display))),
                    ])
                } ?? .null),
                ("student", item.map { item in
                    .object([("student_id", .number(item.studentID)), ("name", .text(item.studentName)), ("email", .text(item.studentEmail)),
                             ("status", .text(item.studentStatus))])
                } ?? .null),
            ])),
            ("verdict", .object([
                ("kind", .string(x.verdict.kind)), ("reason", .string(x.verdict.sentence)), ("first_seen_run", .number(x.verdict.firstSeenRun)),
                ("since", .array(x.verdict.since.map { .object([("run_id", .int($0.runID)), ("state", .string($0.state))]) })),
            ])),
            ("repair", .object([
                ("state", .string(x.repair.state)), ("reason", .string(x.repair.sentence)),
                ("event_id", .text(x.repair.record?.eventID.map { $0.uuidString.lowercased() })),
                ("event_type", .text(x.repair.record?.eventType)), ("guard", .text(x.repair.record?.reason)),
                ("delivery_state", .text(x.repair.record?.deliveryState)), ("attempts", .number(x.repair.record?.attempts)),
                ("last_error", .text(x.repair.record?.lastError)),
                ("delivered_at", .text(x.repair.record?.deliveredAt.map(Timestamp.display))),
            ])),
        ]
        if let live {
            fields.append(("live", .object([
                ("kind", .string(live.kind)), ("reason", .string(live.sentence)),
                ("periods_read", .array(live.periodsRead.map(periodRead))),
                ("listed", live.listed.map { row in
                    .object([("student_id", .number(row.studentId)), ("active", .bool(row.active)), ("added_at", .string(Timestamp.display(row.addedAt)))])
                } ?? .null),
                ("student", live.student.map(student) ?? .null),
            ])))
        }
        return .object(fields)
    }

    static func event(_ listed: Explanation.ListedEvent) -> JSONValue {
        let event = listed.event
        return .object([
            ("event_id", .string(event.eventID.uuidString.lowercased())), ("type", .string(event.eventType)),
            ("event_time", .string(Timestamp.display(Date(timeIntervalSince1970: Double(event.timeMillis) / 1000)))),
            ("received_at", .text(event.receivedAt.map(Timestamp.display))), ("source", .text(event.source)),
            ("signature", .string(signature(event.signatureValid))),
            ("data", event.data.map(JSONValue.raw) ?? .null),
            ("counts", .bool(listed.ruling == .counts)), ("ruling", .string(listed.ruling.name)), ("reason", .string(listed.ruling.sentence)),
        ])
    }

    static func localEvent(_ event: LocalEvent) -> JSONValue {
        .object([
            ("event_id", .string(event.eventID.uuidString.lowercased())), ("type", .string(event.kind.eventType)),
            ("event_time", .string(Timestamp.display(Date(timeIntervalSince1970: Double(event.timeMillis) / 1000)))),
            ("student_id", .number(event.record?.studentID)), ("active", .flag(event.record?.active)),
            ("added_at", .text(event.record.map { Timestamp.display($0.addedAt) })),
        ])
    }

    static func periodRead(_ read: PeriodReadRecord) -> JSONValue {
        .object([
            ("period_id", .number(read.periodID)), ("read_whole", .bool(read.readOK)), ("enrollments", .number(read.enrollments)),
            ("confirming_read", .flag(read.confirmingRead)), ("error", .text(read.error)),
        ])
    }

    static func student(_ lookup: StudentLookup) -> JSONValue {
        switch lookup {
        case .found(let student): .object([("name", .text(student.fullName)), ("email", .text(student.email)), ("status", .text(student.status))])
        case .notFound: .object([("status", .string("not_found"))])
        }
    }

    static func signature(_ valid: Bool?) -> String {
        switch valid {
        case true?: "valid"
        case false?: "invalid"
        case nil: "not checked"
        }
    }

    // MARK: - Text

    static func text(_ x: Explanation, live: Live?) -> String {
        let evidence = x.evidence
        var lines = ["Enrollment \(evidence.enrollmentID) of tenant \(evidence.tenant)" + (evidence.run.map { ", against run \($0.runID) (\($0.status.rawValue), \(Timestamp.display($0.startedAt)))" } ?? ""), ""]
        lines.append("Events we hold (\(x.events.count), oldest first):")
        if x.events.isEmpty { lines.append("  none") }
        for listed in x.events {
            let event = listed.event
            let mark = listed.ruling == .counts ? "*" : " "
            lines.append("\(mark) \(event.eventID.uuidString.lowercased())  \(event.eventType)  at \(Timestamp.display(Date(timeIntervalSince1970: Double(event.timeMillis) / 1000)))"
                + "  received \(event.receivedAt.map(Timestamp.display) ?? "-")  from \(event.source ?? "-")  signature \(signature(event.signatureValid))")
            lines.append("    data \(event.data ?? "-")")
            lines.append("    \(listed.ruling.sentence)")
        }
        lines += ["", "What we believe:"]
        lines.append("  " + (x.belief.next.map { "\(describe($0))" } ?? "nothing: no usable event"))
        lines.append("  check: \(x.belief.check)")
        lines += ["", "What DreamClass said" + (evidence.run.map { " in run \($0.runID):" } ?? ": no run yet")]
        if evidence.run != nil {
            let period = evidence.periodID.map { "period \($0)" + ((evidence.item?.periodName ?? evidence.periodRead?.name).map { " (\($0))" } ?? "") } ?? "period not known to the store"
            let unknown = evidence.allPeriodsRead ? "run \(evidence.run!.runID) read every period whole" + (evidence.item?.inConfirmingRead != nil ? ", twice" : "")
                : "run \(evidence.run!.runID) did not read every period whole"
            lines.append("  \(period): " + (evidence.periodRead.map(describe) ?? (evidence.periodID == nil ? unknown : "not read by this run")))
            if let item = evidence.item {
                lines.append("  first read: \(listedWord(item.inFirstRead)); confirming read: \(item.inConfirmingRead.map(listedWord) ?? "not made")")
                if item.inFirstRead != false {
                    lines.append("  its row: " + DriftReason.describe(studentID: item.remoteStudentID, active: item.remoteActive, addedAt: item.remoteAddedAt))
                }
                lines.append("  GetStudent: " + studentLine(item))
            } else {
                lines.append("  no drift item: rows of enrollments without drift are not kept")
            }
        }
        lines += ["", "Verdict: \(x.verdict.kind)", "  \(x.verdict.sentence)"]
        if let first = x.verdict.firstSeenRun { lines.append("  first seen in run \(first)") }
        for later in x.verdict.since { lines.append("  run \(later.runID): \(later.state)") }
        lines += ["", "Repair: \(x.repair.state)", "  \(x.repair.sentence)"]
        if let live {
            lines += ["", "Now (--live, nothing recorded): \(live.kind)", "  \(live.sentence)"]
            for read in live.periodsRead { lines.append("  period \(read.periodID): \(describe(read))") }
            if let student = live.student { lines.append("  GetStudent: \(studentText(student))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func describe(_ event: LocalEvent) -> String {
        var text = "\(event.kind.eventType) \(event.eventID.uuidString.lowercased()) at \(Timestamp.display(Date(timeIntervalSince1970: Double(event.timeMillis) / 1000)))"
        if let record = event.record {
            text += ": " + DriftReason.describe(studentID: record.studentID, active: record.active, addedAt: record.addedAt)
        } else {
            text += ": deleted"
        }
        return text
    }

    static func describe(_ read: PeriodReadRecord) -> String {
        guard read.readOK else { return "not read whole (\(read.error ?? "no error recorded"))" }
        let confirming = switch read.confirmingRead {
        case true?: ", and whole again in the confirming read"
        case false?: "; the confirming read failed"
        case nil: ""
        }
        return "read whole, \(read.enrollments.map(String.init) ?? "?") enrollments" + confirming
    }

    static func listedWord(_ listed: Bool?) -> String {
        switch listed {
        case true?: "listed"
        case false?: "not listed"
        case nil: "not recorded"
        }
    }

    static func studentLine(_ item: StoredDriftItem) -> String {
        if item.studentStatus == "not_found" { return "404, no such student" }
        guard item.studentName != nil || item.studentEmail != nil || item.studentStatus != nil else { return "not asked" }
        return [item.studentName, item.studentEmail, item.studentStatus].compactMap { $0 }.joined(separator: ", ")
    }

    static func studentText(_ lookup: StudentLookup) -> String {
        switch lookup {
        case .found(let student): [student.fullName, student.email, student.status].compactMap { $0 }.joined(separator: ", ")
        case .notFound: "404, no such student"
        }
    }
}
