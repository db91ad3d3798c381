@testable import DreamClassAPI
@testable import DreamClassSimulator
import Foundation
import Models
import Testing

/// The roster fast path against `JSONDecoder`, on generated bodies: it reads what `JSONDecoder`
/// reads, the same, and never reads what `JSONDecoder` rejects.
@Suite struct RosterJSONTests {
    static func decoded(_ body: [UInt8]) -> ListPage<Enrollment>? {
        try? JSONDecoder().decode(ListPage<Enrollment>.self, from: Data(body))
    }

    /// A random roster body as DreamClass might send it. `plain` is false when it holds something
    /// the fast path leaves to `JSONDecoder` (a `\u` escape in a skipped string).
    struct Body {
        var text = ""
        var plain = true
        var random: SeededRandom

        mutating func space() {
            for _ in 0..<Int.random(in: 0...2, using: &random) { text += [" ", "\n", "\t", "\r\n"].randomElement(using: &random)! }
        }

        mutating func value(depth: Int) {
            switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &random) {
            case 0: text += ["0", "-12", "3.25", "1e9", "-0.5E-3", "123456789012345678901234567890"].randomElement(using: &random)!
            case 1: text += ["true", "false", "null"].randomElement(using: &random)!
            case 2:
                let pieces = ["Ada", "Łukasz", "漢字", #"\""#, #"\\"#, #"\/"#, #"\n"#, "🎓", " "]
                text += "\"" + (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined() + "\""
            case 3:
                text += #""\u00e9t\u00e9""#
                plain = false
            case 4: text += #""2024-10-02T09:40:02.179+00:00""#
            case 5:
                text += "["
                for index in 0..<Int.random(in: 0...3, using: &random) {
                    if index > 0 { text += "," }
                    space()
                    value(depth: depth + 1)
                }
                text += "]"
            default:
                text += "{"
                for index in 0..<Int.random(in: 0...3, using: &random) {
                    if index > 0 { text += "," }
                    text += "\"k\(index)\":"
                    space()
                    value(depth: depth + 1)
                }
                text += "}"
            }
        }

        mutating func row(_ enrollment: Enrollment) {
            var fields = [
                #""id":\#(enrollment.id)"#, #""studentId":\#(enrollment.studentId)"#,
                #""active":\#(enrollment.active)"#, #""addedAt":"\#(enrollment.addedAt)""#,
            ]
            for extra in 0..<Int.random(in: 0...2, using: &random) {
                var field = Body(random: random)
                field.value(depth: 1)
                random = field.random
                plain = plain && field.plain
                fields.append(#""extra\#(extra)":"# + field.text)
            }
            fields.shuffle(using: &random)
            text += "{"
            for (index, field) in fields.enumerated() {
                if index > 0 { text += "," }
                space()
                text += field
                space()
            }
            text += "}"
        }

        mutating func roster(_ rows: [Enrollment]) {
            space()
            let envelope = Bool.random(using: &random)
            if envelope { text += #"{"number":0,"size":\#(rows.count),"content":"# }
            text += "["
            for (index, row) in rows.enumerated() {
                if index > 0 { text += "," }
                space()
                self.row(row)
            }
            text += "]"
            if envelope { text += #","totalPages":1,"totalElements":\#(rows.count),"last":\#(Bool.random(using: &random)),"sort":{"sorted":false}}"# }
            space()
        }
    }

    static func rows(_ random: inout SeededRandom) -> [Enrollment] {
        (0..<Int.random(in: 0...6, using: &random)).map { index in
            Enrollment(id: Int.random(in: -5...Int.max, using: &random), studentId: index, active: Bool.random(using: &random),
                       addedAt: ["2024-10-02T09:40:02.179+00:00", "2026-09-01T08:00:00Z", "2025-01-01 00:00:00.5-03:30"].randomElement(using: &random)!)
        }
    }

    @Test(arguments: 1...300 as ClosedRange<UInt64>)
    func readsWhatJSONDecoderReadsTheSame(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let rows = Self.rows(&random)
        var body = Body(random: random)
        body.roster(rows)
        let bytes = Array(body.text.utf8)
        let expected = try #require(Self.decoded(bytes), "\(body.text)")
        let fast = RosterJSON.page(bytes)
        if body.plain { #expect(fast != nil, "\(body.text)") }
        if let fast { #expect(fast == expected, "\(body.text)") }
    }

    /// Bytes deleted, repeated or replaced: whatever the fast path still reads, `JSONDecoder`
    /// reads the same.
    @Test(arguments: 1...300 as ClosedRange<UInt64>)
    func neverReadsWhatJSONDecoderRejectsOrReadsDifferently(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var body = Body(random: random)
        body.roster(Self.rows(&random))
        var bytes = Array(body.text.utf8)
        let alphabet = Array(#"{}[]:,"\ 0123456789-.eE+tfnul"#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
        for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
            let at = Int.random(in: bytes.indices, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes.remove(at: at)
            case 1: bytes.insert(bytes[at], at: at)
            default: bytes[at] = alphabet.randomElement(using: &random)!
            }
        }
        guard let fast = RosterJSON.page(bytes) else { return }
        #expect(fast == Self.decoded(bytes), "\(String(decoding: bytes, as: UTF8.self))")
    }

    @Test func theSimulatorWritesRowsJSONDecoderReadsBack() throws {
        let rows = [
            Enrollment(id: 1, studentId: 2, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"),
            Enrollment(id: -3, studentId: Int.max, active: false, addedAt: "quote \" backslash \\ tab \t nul \u{0} é 🎓"),
        ]
        let bytes = DreamClassSimulator.json(rows)
        #expect(try JSONDecoder().decode([Lenient].self, from: Data(bytes)) == rows.map(Lenient.init))
        #expect(RosterJSON.page(DreamClassSimulator.json(Array(rows.prefix(1)))) == .array(Array(rows.prefix(1))))
    }

    /// A row as JSON holds it, without `Enrollment`'s check of the date.
    struct Lenient: Decodable, Equatable {
        var id: Int, studentId: Int, active: Bool, addedAt: String
        init(_ row: Enrollment) { (id, studentId, active, addedAt) = (row.id, row.studentId, row.active, row.addedAt) }
    }
}
