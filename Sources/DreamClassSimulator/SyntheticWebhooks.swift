import Foundation
import Models

/// Webhook bodies in DreamClass's envelope, for the demo and the benchmarks.
public enum SyntheticWebhooks {
    /// `count` student-period events: enrollments created, updated and deleted in turn, with
    /// ids and times that follow from `seed`, so two runs make the same stream.
    public static func lines(count: Int, tenant: String = "demo-school", seed: UInt64 = 1) -> [String] {
        let start: Int64 = 1_727_862_002_901
        var random = SeededRandom(seed: seed)
        return (0..<count).map { index in
            let type = ["STUDENT_PERIOD_CREATED", "STUDENT_PERIOD_UPDATED", "STUDENT_PERIOD_DELETED"][index % 3]
            let id = UUID(random: &random).uuidString.lowercased()
            return #"{"id":"\#(id)","type":"\#(type)","tenant":"\#(tenant)","timestamp":\#(start + Int64(index) * 1000),"#
                + #""signature":"nGq8sspzZVWObaR4zUOLyQ29m/IBxxD716hKx5298No=","#
                + #""data":{"id":\#(index / 3 + 1),"active":\#(index % 3 == 1 ? "false" : "true"),"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":\#(1000 + index / 3)}}"#
        }
    }
}
