import Foundation

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

/// SplitMix64: small, fast, and the same on every platform, so a seed names one school.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension UUID {
    /// A version 4 UUID drawn from `random`.
    public init(random: inout some RandomNumberGenerator) {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        self.init(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                         bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
